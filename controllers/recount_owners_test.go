package controllers

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/readygate/readygate/api/v1alpha1"
	"github.com/readygate/readygate/internal/policy"
)

// The policies of a namespace that tally a pod find its owners once
// between them; again once the pod's labels or the policies change.
func TestRecountsFindAPodsOwnersOnce(t *testing.T) {
	web := metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}
	peers := []v1alpha1.ReadinessGatePolicy{
		{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "a", UID: "a"}, Spec: v1alpha1.ReadinessGatePolicySpec{ConditionType: "x/a", Selector: web}},
		{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "b", UID: "b"}, Spec: v1alpha1.ReadinessGatePolicySpec{ConditionType: "x/a", Selector: web}},
		{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "c", UID: "c"}, Spec: v1alpha1.ReadinessGatePolicySpec{ConditionType: "x/c", Selector: web}},
	}
	matches := 0
	selects := func(p *v1alpha1.ReadinessGatePolicy, pod metav1.Object) bool {
		matches++
		return policy.Selects(p, pod)
	}
	counts := newRecounts()
	basis := peersBasisOf(peers)
	pod := &metav1.ObjectMeta{Namespace: "ns", Name: "web", Labels: map[string]string{"app": "web"}}
	tallyAll := func(pod metav1.Object, basis string) {
		for i := range peers {
			if got, want := counts.owner(basis, peers, selects, pod, peers[i].Spec.ConditionType), policy.Owner(peers, pod, peers[i].Spec.ConditionType, policy.Selects); got != want {
				t.Fatalf("%s: the owner found is %v, want %v", peers[i].Name, got, want)
			}
		}
	}
	tallyAll(pod, basis)
	if matches != len(peers) {
		t.Fatalf("%d selector matches for %d policies tallying one pod, want one each", matches, len(peers))
	}
	relabelled := &metav1.ObjectMeta{Namespace: "ns", Name: "web", Labels: map[string]string{"app": "db"}}
	tallyAll(relabelled, basis)
	if matches != 2*len(peers) {
		t.Fatal("a relabelled pod's owners were not found again")
	}
	peers[0].Generation++
	tallyAll(relabelled, peersBasisOf(peers))
	if matches != 3*len(peers) {
		t.Fatal("the owners were not found again once a policy changed")
	}
}
