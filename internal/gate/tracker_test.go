package gate

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

func TestTrackerKeepsStatePerPodAndPolicy(t *testing.T) {
	tr := NewTracker()
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web-0", UID: "u1"}}
	tr.Set(pod, "a", State{FlipHeld: true})
	tr.Set(pod, "b", State{Stale: true, StaleMessage: "boom"})
	tr.Set(pod, "a", State{MissingGateReported: true})
	if got := tr.Get(pod, "a"); got != (State{MissingGateReported: true}) {
		t.Fatalf("policy a: %+v, want its latest state", got)
	}
	if got := tr.Get(pod, "b"); !got.Stale || got.StaleMessage != "boom" {
		t.Fatalf("policy b: %+v", got)
	}
	tr.ForgetPolicy("a")
	if got := tr.Get(pod, "a"); got != (State{}) {
		t.Fatalf("a forgotten policy's state: %+v", got)
	}
	if !tr.Get(pod, "b").Stale {
		t.Fatal("forgetting policy a dropped policy b's state")
	}
	replaced := pod.DeepCopy()
	replaced.UID = "u2"
	if got := tr.Get(replaced, "b"); got != (State{}) {
		t.Fatalf("a pod replaced under the same name inherits %+v", got)
	}
	tr.ForgetPod(types.NamespacedName{Namespace: "ns", Name: "web-0"})
	if got := tr.Get(pod, "b"); got != (State{}) {
		t.Fatalf("a forgotten pod's state: %+v", got)
	}
}
