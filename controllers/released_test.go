package controllers

import (
	"strconv"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

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
		// Selected by none of them, and one of them retained its pods.
		{"shop", "readygate.io/warm", "quarantined", false},
		{"elsewhere", "readygate.io/warm", "web", false},
	} {
		if got := r.recently(tc.ns, tc.ct, map[string]string{"app": tc.app}).Releases(); got != tc.want {
			t.Errorf("recently(%s, %s, app=%s) = %v, want %v", tc.ns, tc.ct, tc.app, got, tc.want)
		}
	}
}

// A pod relabelled out of a deleted Release policy before the operator saw
// the deletion is released: its False was that policy's, and nothing else
// would ever decide it.
func TestReleasedTypesReleasesAPodNoDeletedPolicySelects(t *testing.T) {
	r := newReleasedTypes()
	r.note(&v1alpha1.ReadinessGatePolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web"},
		Spec: v1alpha1.ReadinessGatePolicySpec{ConditionType: "readygate.io/warm",
			Selector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}},
	})
	if !r.recently("shop", "readygate.io/warm", map[string]string{"app": "quarantined"}).Releases() {
		t.Fatal("a pod relabelled out of the deleted policy keeps its False gate, with no policy to decide it")
	}
}

func TestReleasedTypesKeepsTheNewestDeletionsOnly(t *testing.T) {
	r := newReleasedTypes()
	for i := range releasedPerNamespace + 5 {
		r.note(&v1alpha1.ReadinessGatePolicy{
			ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "p"},
			Spec: v1alpha1.ReadinessGatePolicySpec{ConditionType: "readygate.io/warm",
				Selector: metav1.LabelSelector{MatchLabels: map[string]string{"n": strconv.Itoa(i)}}},
		})
	}
	if n := len(r.of("shop")); n != releasedPerNamespace {
		t.Fatalf("%d deletions kept, want %d", n, releasedPerNamespace)
	}
	kept := r.of("shop")
	if oldest, newest := kept[0].selector.String(), kept[len(kept)-1].selector.String(); oldest != "n=5" || newest != "n="+strconv.Itoa(releasedPerNamespace+4) {
		t.Fatalf("kept the deletions from %s to %s, want the newest %d", oldest, newest, releasedPerNamespace)
	}
}

// The newest deletion that decided the pod says: a Retain policy deleted
// after a Release one of the same pods keeps them as they are.
func TestReleasedTypesHonoursTheNewestDeletion(t *testing.T) {
	r := newReleasedTypes()
	for _, onDelete := range []v1alpha1.OnDeletePolicy{v1alpha1.OnDeleteRelease, v1alpha1.OnDeleteRetain} {
		r.note(&v1alpha1.ReadinessGatePolicy{
			ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "p"},
			Spec: v1alpha1.ReadinessGatePolicySpec{ConditionType: "readygate.io/warm", OnDelete: onDelete,
				Selector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}},
		})
	}
	if r.recently("shop", "readygate.io/warm", map[string]string{"app": "web"}).Releases() {
		t.Fatal("a Retain policy's pods were released for an older Release policy of theirs")
	}
}
