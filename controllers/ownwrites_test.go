package controllers

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

func TestOwnWritesUnseen(t *testing.T) {
	key := types.NamespacedName{Namespace: "shop", Name: "web-0"}
	cached := func(rv string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name, ResourceVersion: rv}}
	}
	for _, tc := range []struct {
		name    string
		written string // "" writes nothing
		cached  string
		unseen  bool
		// stillUnseen is what a second look at the same cached pod says.
		stillUnseen bool
	}{
		{name: "no write: the cache decides", cached: "9"},
		{name: "the cache is behind the write", written: "10", cached: "9", unseen: true, stillUnseen: true},
		{name: "the cache is behind by a digit", written: "100", cached: "99", unseen: true, stillUnseen: true},
		{name: "the cache shows the write", written: "10", cached: "10"},
		{name: "the cache is past the write", written: "10", cached: "11"},
		{name: "versions that do not compare count as seen", written: "10", cached: "a9"},
		{name: "a pod gone at the write leaves nothing to wait for", written: "", cached: "1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newOwnWrites()
			if tc.written != "" {
				w.wrote(key, tc.written)
			}
			if got := w.unseen(cached(tc.cached)); got != tc.unseen {
				t.Fatalf("unseen = %v, want %v", got, tc.unseen)
			}
			if got := w.unseen(cached(tc.cached)); got != tc.stillUnseen {
				t.Fatalf("second look: unseen = %v, want %v (a seen write is dropped)", got, tc.stillUnseen)
			}
		})
	}
}

func TestOwnWritesForget(t *testing.T) {
	key := types.NamespacedName{Namespace: "shop", Name: "web-0"}
	w := newOwnWrites()
	w.wrote(key, "10")
	w.forget(key)
	// A pod recreated under the name starts with an older version than the
	// write to its predecessor would have left.
	if w.unseen(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name, ResourceVersion: "5"}}) {
		t.Fatal("a forgotten pod's write still holds its reconciles")
	}
	if len(w.rv) != 0 {
		t.Fatalf("%d writes kept after forget", len(w.rv))
	}
}

// The pod reconciler and a release may write one pod at once, and record
// their writes in either order: the later write is the one to wait for.
func TestOwnWritesKeepsTheLaterOfTwoWrites(t *testing.T) {
	key := types.NamespacedName{Namespace: "shop", Name: "web-0"}
	w := newOwnWrites()
	w.wrote(key, "2005")
	w.wrote(key, "2000") // recorded last, written first
	if !w.unseen(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name, ResourceVersion: "2000"}}) {
		t.Fatal("the cache at 2000 counts as showing the write that made 2005")
	}
}
