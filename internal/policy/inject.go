package policy

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"

	"github.com/readygate/readygate/api/v1alpha1"
)

// AnnotationInject set to "false" on a pod opts it out of gate injection.
const AnnotationInject = "readygate.io/inject"

// GatesToInject returns the condition types to add to a new pod's
// spec.readinessGates: one per accepted, non-suspended live policy of its
// namespace that selects it, skipping gates the pod already lists.
func GatesToInject(pod *corev1.Pod, policies []v1alpha1.ReadinessGatePolicy) []string {
	if pod.Annotations[AnnotationInject] == "false" {
		return nil
	}
	var out []string
	seen := map[string]bool{}
	for _, g := range pod.Spec.ReadinessGates {
		seen[string(g.ConditionType)] = true
	}
	for i := range policies {
		p := &policies[i]
		if p.DeletionTimestamp != nil || p.Spec.Suspend || seen[p.Spec.ConditionType] ||
			!meta.IsStatusConditionTrue(p.Status.Conditions, v1alpha1.ConditionAccepted) || !Selects(p, pod) {
			continue
		}
		seen[p.Spec.ConditionType] = true
		out = append(out, p.Spec.ConditionType)
	}
	return out
}
