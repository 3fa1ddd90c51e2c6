package gate

import (
	"encoding/json"
	"slices"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/readygate/readygate/api/v1alpha1"
)

// Find returns the pod's condition of the given type, or nil.
func Find(pod *corev1.Pod, conditionType string) *corev1.PodCondition {
	return FindIn(pod.Status.Conditions, conditionType)
}

// FindIn returns the condition of the given type among conditions, or nil.
func FindIn(conditions []corev1.PodCondition, conditionType string) *corev1.PodCondition {
	for i := range conditions {
		if string(conditions[i].Type) == conditionType {
			return &conditions[i]
		}
	}
	return nil
}

// Changed reports whether writing d would change the pod's condition.
func Changed(cur *corev1.PodCondition, d Decision) bool {
	return cur == nil || cur.Status != d.Status || cur.Reason != d.Reason || cur.Message != Cut(d.Message)
}

// Flipped reports whether d changes the condition's status.
func Flipped(cur *corev1.PodCondition, d Decision) bool {
	return cur != nil && cur.Status != d.Status
}

// Condition builds the condition to write; lastTransitionTime moves only
// when the status flips.
func Condition(conditionType string, cur *corev1.PodCondition, d Decision, now metav1.Time) corev1.PodCondition {
	c := corev1.PodCondition{
		Type:               corev1.PodConditionType(conditionType),
		Status:             d.Status,
		Reason:             d.Reason,
		Message:            Cut(d.Message),
		LastTransitionTime: now,
	}
	if cur != nil && cur.Status == d.Status {
		c.LastTransitionTime = cur.LastTransitionTime
	}
	return c
}

// Patch is a strategic merge patch for pods/status that sets one condition.
// Conditions merge by type, so every other condition is left alone, and the
// UID makes the write fail on a pod that was replaced under the same name.
func Patch(uid types.UID, c corev1.PodCondition) ([]byte, error) {
	return json.Marshal(map[string]any{
		"metadata": map[string]any{"uid": uid},
		"status":   map[string]any{"conditions": []corev1.PodCondition{c}},
	})
}

// ContainersReadySince is when the pod's containers last turned ready; zero
// while they are not. The kubelet stamps it with its node's clock, so it is
// taken no earlier than the pod's creation, stamped by the API server's: a
// node clock far behind must not fail a new pod's gate open at once.
func ContainersReadySince(pod *corev1.Pod) metav1.Time {
	c := Find(pod, string(corev1.ContainersReady))
	if c == nil || c.Status != corev1.ConditionTrue {
		return metav1.Time{}
	}
	if c.LastTransitionTime.Before(&pod.CreationTimestamp) {
		return pod.CreationTimestamp
	}
	return c.LastTransitionTime
}

// HasGate reports whether the pod lists conditionType in spec.readinessGates.
func HasGate(pod *corev1.Pod, conditionType string) bool {
	return Declares(pod.Spec.ReadinessGates, conditionType)
}

// Declares reports whether gates include conditionType.
func Declares(gates []corev1.PodReadinessGate, conditionType string) bool {
	return slices.ContainsFunc(gates, func(g corev1.PodReadinessGate) bool { return string(g.ConditionType) == conditionType })
}

// writtenReasons are the reasons of the not-True conditions the operator writes.
var writtenReasons = map[string]bool{
	v1alpha1.ReasonExpressionFalse: true, v1alpha1.ReasonEvaluationError: true,
	v1alpha1.ReasonSourceUnavailable: true, ReasonSuccessThresholdNotMet: true,
}

// WrittenByOperator reports whether a not-True condition is one the operator
// wrote, so that releasing it cannot overrule another writer of that type.
func WrittenByOperator(c *corev1.PodCondition) bool {
	return writtenReasons[c.Reason]
}
