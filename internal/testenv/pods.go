package testenv

import corev1 "k8s.io/api/core/v1"

// ReadinessGates lists the condition types of a pod's readiness gates, for
// assertions on what the injector added.
func ReadinessGates(pod *corev1.Pod) []string {
	out := make([]string, 0, len(pod.Spec.ReadinessGates))
	for _, g := range pod.Spec.ReadinessGates {
		out = append(out, string(g.ConditionType))
	}
	return out
}
