package policy

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/readygate/readygate/api/v1alpha1"
)

// InjectKey is the label a namespace sets to InjectEnabled to have its new
// pods get readiness gates, and the label or annotation a pod sets to "false"
// to opt out.
const (
	InjectKey     = "readygate.io/inject"
	InjectEnabled = "enabled"
)

// NamespaceInjects reports whether new pods of the namespace get gates: it
// asks for injection and is neither kube-system nor the operator's own. The
// webhook configuration selects the same namespaces, but OLM cannot carry a
// namespaceSelector, so the injector has to decide it as well.
func NamespaceInjects(name string, labels map[string]string, operatorNamespace string) bool {
	return labels[InjectKey] == InjectEnabled && name != metav1.NamespaceSystem && name != operatorNamespace
}

// GatesToInject returns the condition types to add to a new pod's
// spec.readinessGates: one per accepted, non-suspended, enforcing live policy
// of its namespace that selects it, skipping gates the pod already lists. A
// DryRun policy gets no gate: it must never block traffic.
func GatesToInject(pod *corev1.Pod, policies []v1alpha1.ReadinessGatePolicy) []string {
	if pod.Annotations[InjectKey] == "false" {
		return nil
	}
	var out []string
	seen := map[string]bool{}
	for _, g := range pod.Spec.ReadinessGates {
		seen[string(g.ConditionType)] = true
	}
	for i := range policies {
		p := &policies[i]
		if p.DeletionTimestamp != nil || p.Spec.Suspend || p.Spec.Mode == v1alpha1.ModeDryRun || seen[p.Spec.ConditionType] ||
			!meta.IsStatusConditionTrue(p.Status.Conditions, v1alpha1.ConditionAccepted) || !Selects(p, pod) {
			continue
		}
		seen[p.Spec.ConditionType] = true
		out = append(out, p.Spec.ConditionType)
	}
	return out
}
