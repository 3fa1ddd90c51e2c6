package rgp

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/readygate/readygate/api/v1alpha1"
	"github.com/readygate/readygate/internal/podschema"
	"github.com/readygate/readygate/internal/policy"
)

// brokenPolicy is a stored policy that does not compile, gating
// x.io/a on app=web, and its pods: one it holds True, one False.
func brokenPolicy(t *testing.T) (*policy.Compiled, *v1alpha1.ReadinessGatePolicy, []corev1.Pod) {
	env, err := podschema.CELEnv()
	if err != nil {
		t.Fatal(err)
	}
	p := &v1alpha1.ReadinessGatePolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "broken", UID: "u"},
		Spec: v1alpha1.ReadinessGatePolicySpec{Selector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			ConditionType: "x.io/a", Expression: "pod.metadata.name =="},
	}
	pod := func(name string, status corev1.ConditionStatus, reason string) corev1.Pod {
		return corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, Labels: map[string]string{"app": "web"}},
			Spec:       corev1.PodSpec{ReadinessGates: []corev1.PodReadinessGate{{ConditionType: "x.io/a"}}},
			Status:     corev1.PodStatus{Conditions: []corev1.PodCondition{{Type: "x.io/a", Status: status, Reason: reason, Message: "Syntax error"}}},
		}
	}
	return policy.Compile(env, p, true, nil), p, []corev1.Pod{pod("serving", corev1.ConditionTrue, v1alpha1.ReasonExpressionTrue),
		pod("held", corev1.ConditionFalse, v1alpha1.ReasonEvaluationError)}
}

// The operator counts a broken policy's pods (it decides them, as errors):
// `kubectl rgp status` must show the same, and the pod it holds False.
func TestRolloutOfABrokenPolicy(t *testing.T) {
	c, p, pods := brokenPolicy(t)
	r := rolloutOf(c, p, []v1alpha1.ReadinessGatePolicy{*p}, pods)
	if r.Matched != 2 || r.Ready != 1 || len(r.NotReady) != 1 || r.NotReady[0].Pod != "held" || r.Problem == "" {
		t.Errorf("got matched %d, ready %d, not ready %+v, problem %q; want 2, 1, the pod held False, and the compile error", r.Matched, r.Ready, r.NotReady, r.Problem)
	}
}

// A pod a broken policy holds False is held by that policy: explain must
// not send its reader looking for another reason.
func TestNextStepOfAPodABrokenPolicyHolds(t *testing.T) {
	c, p, pods := brokenPolicy(t)
	held := &pods[1]
	v := verdictFor(metav1.Now().Time, c, p, []v1alpha1.ReadinessGatePolicy{*p}, held, func(p *v1alpha1.ReadinessGatePolicy, pod metav1.Object) bool {
		return c.Selects(pod.GetNamespace(), pod.GetLabels())
	})
	got := nextStep(held, []PolicyVerdict{v})
	if !strings.Contains(got, "policy broken does not compile") {
		t.Errorf("got %q, want it to say that policy broken, which does not compile, holds x.io/a False", got)
	}
}
