package gate

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestTrackerForgetsAPolicyWithItsBudget(t *testing.T) {
	tr := NewTracker()
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "p", UID: "pod-1"}}
	tr.Set(pod, "policy", State{FlipHeld: true})
	if !tr.Budget("policy").Take(t0, time.Minute, 1) {
		t.Fatal("a fresh budget refused a flip")
	}
	if tr.Budget("policy").Take(t0, time.Minute, 1) {
		t.Fatal("the same policy got a second budget")
	}
	tr.ForgetPolicy("policy")
	if got := tr.Get(pod, "policy"); got.FlipHeld {
		t.Fatal("the pod's state under a forgotten policy survived")
	}
	if !tr.Budget("policy").Take(t0, time.Minute, 1) {
		t.Fatal("a forgotten policy's spent budget survived")
	}
	if len(tr.budgets) != 1 {
		t.Fatalf("%d budgets, want the one just taken", len(tr.budgets))
	}
}
