package policy

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/readygate/readygate/api/v1alpha1"
	"github.com/readygate/readygate/internal/gate"
)

// Summary is what a policy's status reports about its pods.
type Summary struct {
	Matched, Ready, Missing int32
	// Held counts pods kept True by maxUnavailable; Stale, pods kept True on
	// their last good result (onError: Hold); Unevaluated, matched pods
	// that carry no condition yet; FailedOpen, pods True by failOpenAfter.
	Held, Stale, Unevaluated, FailedOpen int32
	// StaleExample is one stale pod's error, for the policy's Event.
	StaleExample string
	// Conflict names a pod the policy selects that an older policy owns.
	Conflict *Conflict
}

// Conflict is one pod that two policies claim for the same condition type.
type Conflict struct {
	Pod, Winner string
}

// Summarize counts the policy's pods. pods are the pods it selects, peers
// the namespace's policies, and stateOf what the operator remembers of a
// pod under the policy (held and stale pods are not written to the pod).
func Summarize(c *Compiled, pods []*corev1.Pod, peers []v1alpha1.ReadinessGatePolicy, selects SelectsFunc, stateOf func(metav1.Object) gate.State) Summary {
	counts := NewCounts()
	for _, pod := range pods {
		counts.Set(podKey(pod), TallyPod(c, pod, OwnerAmong(peers, selects), stateOf))
	}
	return counts.Summary()
}

// maxConditionMessage is the longest message a metav1.Condition may carry.
const maxConditionMessage = 32768

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
	// The errors of 34 expressions of 5,120 characters, with CEL's excerpts,
	// can pass what the API server takes, and the whole status write fails.
	accepted.Message = gate.CutTo(accepted.Message, maxConditionMessage)

	progressing := metav1.Condition{Type: v1alpha1.ConditionProgressing, ObservedGeneration: gen}
	ready := metav1.Condition{Type: v1alpha1.ConditionReady, ObservedGeneration: gen}
	notReady := s.Matched - s.Ready
	missing := heldNote(s)
	if s.Missing > 0 {
		missing += fmt.Sprintf("; %d selected pods do not list %s in spec.readinessGates and cannot be gated: add the gate to their template (or enable injection on the namespace) and restart them", s.Missing, p.Spec.ConditionType)
	}
	switch {
	case p.Spec.Suspend:
		progressing.Status, progressing.Reason, progressing.Message = metav1.ConditionFalse, v1alpha1.ReasonSuspended, "the policy is suspended: every gate is released True"
	case compileErr != nil:
		progressing.Status, progressing.Reason, progressing.Message = metav1.ConditionFalse, accepted.Reason, "no pod is evaluated until the policy is valid: True gates stay True, the others are False saying why, and failOpenAfter still applies"
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
	return []metav1.Condition{accepted, progressing, ready, reconciling(gen, compileErr, s), stalled(accepted)}
}

// reconciling is kstatus's Reconciling: True while matched pods wait for
// their first evaluation under the policy.
func reconciling(gen int64, compileErr error, s Summary) metav1.Condition {
	c := metav1.Condition{Type: v1alpha1.ConditionReconciling, Status: metav1.ConditionFalse, Reason: v1alpha1.ReasonAllPodsEvaluated,
		Message: "every matched pod carries the condition", ObservedGeneration: gen}
	switch {
	case compileErr != nil:
		// Its pods get their condition, as errors, but no evaluation:
		// nothing is reconciling, and Stalled says why.
		c.Reason, c.Message = reasonOf(compileErr), "no pod is evaluated until the policy compiles (Accepted says why)"
	case s.Unevaluated > 0:
		c.Status, c.Reason = metav1.ConditionTrue, v1alpha1.ReasonEvaluatingPods
		c.Message = fmt.Sprintf("%d of %d matched pods are not evaluated yet", s.Unevaluated, s.Matched)
	}
	return c
}

// stalled is kstatus's Stalled: True, with Accepted's reason and message,
// while the policy cannot work as written. Pods that are not ready do not
// stall a policy: they are its work, not its failure.
func stalled(accepted metav1.Condition) metav1.Condition {
	c := metav1.Condition{Type: v1alpha1.ConditionStalled, Status: metav1.ConditionFalse, Reason: v1alpha1.ReasonWorking,
		Message: "the policy is accepted and working", ObservedGeneration: accepted.ObservedGeneration}
	if accepted.Status == metav1.ConditionFalse {
		c.Status, c.Reason, c.Message = metav1.ConditionTrue, accepted.Reason, accepted.Message
	}
	return c
}

// heldNote tells of the pods whose gate stays True against or without a verdict.
func heldNote(s Summary) string {
	note := ""
	if s.Held > 0 {
		note += fmt.Sprintf("; %d pods stay True although the expression is false, because maxUnavailable has no room", s.Held)
	}
	if s.Stale > 0 {
		note += fmt.Sprintf("; %d pods stay True on their last good result because evaluation or a source fails (onError: Hold, or the policy does not compile)", s.Stale)
	}
	return note
}
