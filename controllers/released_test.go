package controllers

import (
	"strconv"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/readygate/readygate/api/v1alpha1"
)

// Only the pods a deleted Release policy selected are released later: a
// Retain policy of the same condition type keeps its pods as they are.
func TestReleasedTypesRemembersWhatTheDeletedPolicySelected(t *testing.T) {
	policy := func(name string, onDelete v1alpha1.OnDeletePolicy, app string) *v1alpha1.ReadinessGatePolicy {
		return &v1alpha1.ReadinessGatePolicy{
			ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: name},
			Spec: v1alpha1.ReadinessGatePolicySpec{ConditionType: "readygate.io/warm", OnDelete: onDelete,
				Selector: metav1.LabelSelector{MatchLabels: map[string]string{"app": app}}},
		}
	}
	r := newReleasedTypes()
	r.note(policy("web", v1alpha1.OnDeleteRelease, "web"))
	r.note(policy("db", v1alpha1.OnDeleteRetain, "db"))
	r.note(policy("api", "", "api"))
	for _, tc := range []struct {
		ns, ct, app string
		want        bool
	}{
		{"shop", "readygate.io/warm", "web", true},
		{"shop", "readygate.io/warm", "api", true},
		{"shop", "readygate.io/warm", "db", false},
		{"shop", "readygate.io/other", "web", false},
		{"elsewhere", "readygate.io/warm", "web", false},
	} {
		if got := r.recently(tc.ns, tc.ct, map[string]string{"app": tc.app}); got != tc.want {
			t.Errorf("recently(%s, %s, app=%s) = %v, want %v", tc.ns, tc.ct, tc.app, got, tc.want)
		}
	}
}

func TestReleasedTypesKeepsTheNewestDeletionsOnly(t *testing.T) {
	r := newReleasedTypes()
	for i := range releasedPerType + 5 {
		r.note(&v1alpha1.ReadinessGatePolicy{
			ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "p"},
			Spec: v1alpha1.ReadinessGatePolicySpec{ConditionType: "readygate.io/warm",
				Selector: metav1.LabelSelector{MatchLabels: map[string]string{"n": strconv.Itoa(i)}}},
		})
	}
	selectors, _ := r.recent.Get(releasedKey("shop", "readygate.io/warm"))
	if n := len(selectors.([]labels.Selector)); n != releasedPerType {
		t.Fatalf("%d selectors kept, want %d", n, releasedPerType)
	}
	if r.recently("shop", "readygate.io/warm", map[string]string{"n": "0"}) ||
		!r.recently("shop", "readygate.io/warm", map[string]string{"n": strconv.Itoa(releasedPerType + 4)}) {
		t.Fatal("the oldest deletions were kept, or the newest dropped")
	}
}
