package testenv

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Reasons the kubelet gives on a pod's Ready and ContainersReady conditions.
const (
	reasonContainersNotReady     = "ContainersNotReady"
	reasonReadinessGatesNotReady = "ReadinessGatesNotReady"
)

// containersReadyCondition is what the kubelet reports for ContainersReady
// when the named containers are (or are not) ready.
func containersReadyCondition(pod *corev1.Pod, ready bool) corev1.PodCondition {
	if ready {
		return corev1.PodCondition{Type: corev1.ContainersReady, Status: corev1.ConditionTrue}
	}
	names := make([]string, 0, len(pod.Spec.Containers))
	for _, c := range pod.Spec.Containers {
		names = append(names, c.Name)
	}
	return corev1.PodCondition{
		Type:    corev1.ContainersReady,
		Status:  corev1.ConditionFalse,
		Reason:  reasonContainersNotReady,
		Message: fmt.Sprintf("containers with unready status: [%s]", strings.Join(names, " ")),
	}
}

// KubeletReady is the Ready condition the simulated kubelet reports for the
// pod as it stands. Its message names the unmet gates, so it changes when a
// gate goes from missing to False with no change of status: a test that
// counts a pod's writes waits for it first.
func KubeletReady(pod *corev1.Pod) corev1.PodCondition {
	return readyCondition(pod, containersReadyCondition(pod, containersReady(pod)))
}

// containersReady is whether the pod's containers report ready: all do
// unless a test says otherwise by annotation.
func containersReady(pod *corev1.Pod) bool {
	return pod.Annotations[AnnotationContainersReady] != "false"
}

// readyCondition computes the pod's Ready condition the way the kubelet does:
// containers first, then every readiness gate must have a True condition.
func readyCondition(pod *corev1.Pod, containersReady corev1.PodCondition) corev1.PodCondition {
	if containersReady.Status != corev1.ConditionTrue {
		return corev1.PodCondition{
			Type:    corev1.PodReady,
			Status:  containersReady.Status,
			Reason:  containersReady.Reason,
			Message: containersReady.Message,
		}
	}
	var unmet []string
	for _, gate := range pod.Spec.ReadinessGates {
		cond := findCondition(pod.Status.Conditions, gate.ConditionType)
		switch {
		case cond == nil:
			unmet = append(unmet, fmt.Sprintf("corresponding condition of pod readiness gate %q does not exist.", gate.ConditionType))
		case cond.Status != corev1.ConditionTrue:
			unmet = append(unmet, fmt.Sprintf("the status of pod readiness gate %q is not \"True\", but %v", gate.ConditionType, cond.Status))
		}
	}
	if len(unmet) > 0 {
		return corev1.PodCondition{
			Type:    corev1.PodReady,
			Status:  corev1.ConditionFalse,
			Reason:  reasonReadinessGatesNotReady,
			Message: strings.Join(unmet, ", "),
		}
	}
	return corev1.PodCondition{Type: corev1.PodReady, Status: corev1.ConditionTrue}
}

func findCondition(conds []corev1.PodCondition, t corev1.PodConditionType) *corev1.PodCondition {
	for i := range conds {
		if conds[i].Type == t {
			return &conds[i]
		}
	}
	return nil
}
