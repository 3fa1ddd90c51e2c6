package policy

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/readygate/readygate/api/v1alpha1"
	"github.com/readygate/readygate/internal/gate"
)

// Summary is what a policy's status reports about its pods.
type Summary struct {
	Matched, Ready, Missing int32
	// Conflict names a pod the policy selects that an older policy owns.
	Conflict *Conflict
}

// Conflict is one pod that two policies claim for the same condition type.
type Conflict struct {
	Pod, Winner string
}

// Summarize counts the policy's pods. pods are the namespace's pods, peers
// the namespace's policies, and ready says whether a gated pod is (or, in
// DryRun, would be) True.
func Summarize(p *v1alpha1.ReadinessGatePolicy, pods []corev1.Pod, peers []v1alpha1.ReadinessGatePolicy, ready func(*corev1.Pod) bool) Summary {
	var s Summary
	sel, err := Selector(p)
	if err != nil {
		return s
	}
	for i := range pods {
		pod := &pods[i]
		if pod.Namespace != p.Namespace || !sel.Matches(labels.Set(pod.Labels)) || pod.DeletionTimestamp != nil {
			continue
		}
		if owner := Owner(peers, pod, p.Spec.ConditionType); owner != nil && owner.UID != p.UID {
			if s.Conflict == nil {
				s.Conflict = &Conflict{Pod: pod.Name, Winner: owner.Name}
			}
			continue
		}
		if !gate.HasGate(pod, p.Spec.ConditionType) {
			s.Missing++
			continue
		}
		s.Matched++
		if ready(pod) {
			s.Ready++
		}
	}
	return s
}

// Conditions returns the policy's Accepted, Progressing and Ready conditions.
// compileErr is the policy's compile (or selector) error, if any.
func Conditions(p *v1alpha1.ReadinessGatePolicy, compileErr error, s Summary) []metav1.Condition {
	gen := p.Generation
	accepted := metav1.Condition{Type: v1alpha1.ConditionAccepted, Status: metav1.ConditionTrue, Reason: v1alpha1.ReasonCompiled,
		Message: "the expressions compiled and the policy owns its pods", ObservedGeneration: gen}
	switch {
	case compileErr != nil:
		accepted.Status, accepted.Reason, accepted.Message = metav1.ConditionFalse, reasonOf(compileErr), compileErr.Error()
	case s.Conflict != nil:
		accepted.Status, accepted.Reason = metav1.ConditionFalse, v1alpha1.ReasonConflict
		accepted.Message = fmt.Sprintf("pod %s is also selected by the older policy %s for condition %s; the older policy decides it",
			s.Conflict.Pod, s.Conflict.Winner, p.Spec.ConditionType)
	}

	if w := Warnings(p); accepted.Status == metav1.ConditionTrue && len(w) > 0 {
		accepted.Message += "; warning: " + strings.Join(w, "; ")
	}

	progressing := metav1.Condition{Type: v1alpha1.ConditionProgressing, ObservedGeneration: gen}
	ready := metav1.Condition{Type: v1alpha1.ConditionReady, ObservedGeneration: gen}
	notReady := s.Matched - s.Ready
	missing := ""
	if s.Missing > 0 {
		missing = fmt.Sprintf("; %d selected pods do not list %s in spec.readinessGates and cannot be gated: add the gate to their template (or enable injection on the namespace) and restart them", s.Missing, p.Spec.ConditionType)
	}
	switch {
	case p.Spec.Suspend:
		progressing.Status, progressing.Reason, progressing.Message = metav1.ConditionFalse, v1alpha1.ReasonSuspended, "the policy is suspended: every gate is released True"
	case compileErr != nil:
		progressing.Status, progressing.Reason, progressing.Message = metav1.ConditionFalse, accepted.Reason, "no pod is evaluated until the policy is valid"
	case notReady > 0:
		progressing.Status, progressing.Reason = metav1.ConditionTrue, v1alpha1.ReasonPodsNotReady
		progressing.Message = fmt.Sprintf("%d of %d matched pods are not yet True%s", notReady, s.Matched, missing)
	default:
		progressing.Status, progressing.Reason = metav1.ConditionFalse, v1alpha1.ReasonAllPodsReady
		progressing.Message = fmt.Sprintf("all %d matched pods are True%s", s.Matched, missing)
	}
	switch {
	case compileErr != nil:
		ready.Status, ready.Reason, ready.Message = metav1.ConditionFalse, accepted.Reason, "the policy is not valid: see Accepted"
	case s.Matched == 0:
		ready.Status, ready.Reason = metav1.ConditionFalse, v1alpha1.ReasonNoPods
		ready.Message = "no selected pod lists the condition in spec.readinessGates" + missing
	case notReady > 0:
		ready.Status, ready.Reason, ready.Message = metav1.ConditionFalse, v1alpha1.ReasonPodsNotReady, progressing.Message
	default:
		ready.Status, ready.Reason, ready.Message = metav1.ConditionTrue, v1alpha1.ReasonAllPodsReady, progressing.Message
	}
	return []metav1.Condition{accepted, progressing, ready}
}
