package controllers

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/event"

	"github.com/readygate/readygate/api/v1alpha1"
	"github.com/readygate/readygate/internal/podcache"
	"github.com/readygate/readygate/internal/policy"
)

func TestConcerns(t *testing.T) {
	web := []v1alpha1.ReadinessGatePolicy{{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web"},
		Spec:       v1alpha1.ReadinessGatePolicySpec{ConditionType: "x/warm", Selector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}},
	}}
	meta := func(app string) metav1.PartialObjectMetadata {
		return metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "p", Labels: map[string]string{"app": app}}}
	}
	gated := func(app string) *podcache.Gated {
		return &podcache.Gated{PartialObjectMetadata: meta(app), Gates: []corev1.PodReadinessGate{{ConditionType: "x/warm"}}}
	}
	cases := []struct {
		name     string
		pod      metav1.Object
		policies []v1alpha1.ReadinessGatePolicy
		want     bool
	}{
		{"a gated pod no policy selects: its gate may need releasing", gated("db"), nil, true},
		{"a gated pod a policy selects", gated("web"), web, true},
		{"a pod without gates a policy selects: told to add it", &podcache.Ungated{PartialObjectMetadata: meta("web")}, web, true},
		{"a pod without gates no policy selects", &podcache.Ungated{PartialObjectMetadata: meta("db")}, web, false},
		{"a pod without gates in a namespace without policies", &podcache.Ungated{PartialObjectMetadata: meta("web")}, nil, false},
		{"a Pod without gates, as the cache's Get makes it", &corev1.Pod{ObjectMeta: meta("db").ObjectMeta}, web, false},
		{"a Pod with gates, as the cache's Get makes it", gated("db").Pod(), web, true},
	}
	for _, tc := range cases {
		if got := concerns(tc.pod, tc.policies, policy.Selects); got != tc.want {
			t.Errorf("%s: concerns = %t, want %t", tc.name, got, tc.want)
		}
	}
}

// Every deletion is reconciled: a pod a policy selected once may have left
// state behind, which only its reconcile forgets.
func TestEveryPodDeletionIsQueued(t *testing.T) {
	r := &PodGateReconciler{}
	ungated := &podcache.Ungated{PartialObjectMetadata: metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "p"}}}
	if !r.concernedPods(t.Context()).Delete(event.DeleteEvent{Object: ungated}) {
		t.Error("the deletion of a pod that declares no gate and that no policy selects now was filtered out")
	}
}
