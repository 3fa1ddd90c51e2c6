package gate

import (
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/readygate/readygate/api/v1alpha1"
)

// Event reasons on pods.
const (
	EventGateFlipped  = "GateFlipped"
	EventMissingGate  = "MissingReadinessGate"
	EventFlipDeferred = v1alpha1.ReasonFlipDeferred
)

// Settings are one policy's knobs for its pods, defaults applied.
type Settings struct {
	PolicyName    string
	ConditionType string
	Thresholds
	// DryRun sets the gate True with the would-be verdict in the message.
	DryRun bool
	// Suspended releases the gate True.
	Suspended bool
}

// PodInput is everything that decides what to do for one pod under one
// policy. The reconciler gathers it; PlanPod decides.
type PodInput struct {
	Settings Settings
	// Gated is set when the pod lists the condition in spec.readinessGates.
	Gated bool
	// Release, when set, is why the pod is no longer gated by any policy:
	// ReasonPolicyDeleted or ReasonNotSelected. The gate is set True.
	Release string
	// Current is the condition the pod carries; nil before the first write.
	Current *corev1.PodCondition
	State   State
	// Observation is this evaluation's result.
	Observation Observation
	// ReadsOnlyPod is set when nothing but a pod change can change the result.
	ReadsOnlyPod         bool
	ContainersReadySince time.Time
	Now                  time.Time
	// AdmitFlip is asked, only for a True-to-False flip, whether maxUnavailable
	// has room for one more pod; when it says yes it has reserved that room.
	AdmitFlip func() bool
	// ToldUnread is set while a new leader is still reading the Events an
	// earlier one left (see Told): State may lack what they tell.
	ToldUnread bool
}

// PodEvent is an Event to record on the pod.
type PodEvent struct {
	Type, Reason, Note string
}

// Plan is what to do for one pod under one policy.
type Plan struct {
	// Write is the condition to patch; nil writes nothing.
	Write *corev1.PodCondition
	// Event, when set, is recorded on the pod (after a successful write, if any).
	Event *PodEvent
	// State is what to remember of the pod until the next evaluation.
	State State
	// Requeue, when positive, is when to evaluate again without an event.
	Requeue time.Duration
	// AdmittedFlip is set when Write spends room under maxUnavailable; if
	// the write fails, the room must be given back.
	AdmittedFlip bool
}

// ToldRetry is when a pod whose plan would tell what an earlier leader's
// Events may already tell is planned again, while they are being read.
const ToldRetry = time.Second

// PlanPod decides the condition, Event, state and requeue for one pod: the
// behaviour rules of the design in one pure function.
func PlanPod(in PodInput) Plan {
	plan := planPod(in)
	// Such a plan writes nothing, so waiting for the Events costs the pod
	// nothing, and no other pod waits: the state stays as it was, to be
	// planned again with what they tell.
	if in.ToldUnread && plan.Write == nil && plan.Event != nil && ToldOnce(plan.Event.Reason) {
		return Plan{State: in.State, Requeue: ToldRetry}
	}
	return plan
}

// ToldOnce says whether Events of the reason are told once per pod, or per
// hold, rather than per flip.
func ToldOnce(reason string) bool {
	return reason == EventMissingGate || reason == EventFlipDeferred
}

func planPod(in PodInput) Plan {
	if in.Release != "" {
		return planRelease(in)
	}
	st := in.State
	if !in.Gated {
		if st.MissingGateReported {
			return Plan{State: st}
		}
		st.MissingGateReported = true
		return Plan{State: st, Event: &PodEvent{corev1.EventTypeWarning, EventMissingGate, Cut(fmt.Sprintf(
			"policy %s selects this pod but spec.readinessGates lacks %s: add it to the pod template and restart the pod",
			in.Settings.PolicyName, in.Settings.ConditionType))}}
	}
	cur := in.Current
	dryRunning := in.Settings.dryRunning()
	verdict := in.Settings.Verdict(cur)
	d := decide(in, verdict)
	st.Counters, st.Stale = d.Counters, d.Stale
	st.StaleMessage = ""
	if d.Stale {
		st.StaleMessage = Cut(in.Observation.Message)
	}
	// A result not in yet (a source not fetched, an evaluation put off)
	// tells nothing new: a held or stale gate stays so, and is not told
	// again when the next result holds it once more.
	notIn := in.Observation.Outcome == OutcomePending
	if notIn {
		st.Stale, st.StaleMessage = in.State.Stale, in.State.StaleMessage
	}
	requeue := nextEvaluation(in, d)
	var ev *PodEvent
	if dryRunning && Flipped(verdict, d) {
		ev = dryRunEvent(in.Settings, d)
	}
	sameVerdict := sameStatusAndReason(verdict, d)
	if dryRunning {
		d = dryRun(d)
	}
	if Flipped(cur, d) {
		ev = flipEvent(in.Settings.ConditionType, d)
	}
	// Only the message changed: the verdict and the condition written (a
	// switch between DryRun and Enforce changes the latter alone).
	messageOnly := sameVerdict && sameStatusAndReason(cur, d)
	if !Changed(cur, d) {
		// An error held the gate, as it was: a held flip stays held, and is
		// not told again when the next verdict holds it once more.
		st.FlipHeld = st.FlipHeld && (d.Stale || notIn)
		// A new leader counts false results to failureThreshold afresh
		// before it holds the flip again: the hold told ends only with a
		// result that breaks the streak.
		st.HoldTold = st.HoldTold && (d.Stale || notIn || d.Counters.Failures > 0)
		return Plan{State: st, Requeue: requeue}
	}
	if due := st.Written.Add(in.Settings.Interval).Sub(in.Now); messageOnly && due > 0 {
		return Plan{State: st, Requeue: Sooner(requeue, due)}
	}
	admitted := false
	if isTrue(cur) && d.Status != corev1.ConditionTrue {
		if !in.AdmitFlip() {
			return holdFlip(in, st, d, requeue)
		}
		admitted = true
	}
	st.FlipHeld, st.HoldTold = false, false
	st.Written = in.Now
	c := Condition(in.Settings.ConditionType, cur, d, metav1.NewTime(in.Now))
	return Plan{Write: &c, Event: ev, State: st, Requeue: requeue, AdmittedFlip: admitted}
}

// decide applies suspension, thresholds, errors and the fail-open timeout.
func decide(in PodInput, verdict *corev1.PodCondition) Decision {
	if in.Settings.Suspended {
		return Decision{Status: corev1.ConditionTrue, Reason: v1alpha1.ReasonSuspended,
			Message: fmt.Sprintf("policy %s is suspended: the gate is released", in.Settings.PolicyName)}
	}
	return Decide(Input{
		Current:              verdict,
		Counters:             in.State.Counters,
		Observation:          in.Observation,
		Thresholds:           in.Settings.Thresholds,
		ContainersReadySince: in.ContainersReadySince,
		Now:                  in.Now,
	})
}

// holdFlip keeps a True gate True because maxUnavailable has no room: one
// Event when the hold starts, unless an earlier leader told it, and a look
// again at the next interval.
func holdFlip(in PodInput, st State, d Decision, requeue time.Duration) Plan {
	var ev *PodEvent
	if !st.FlipHeld && !st.HoldTold {
		ev = &PodEvent{corev1.EventTypeWarning, EventFlipDeferred, Cut(fmt.Sprintf(
			"policy %s would set %s to False (%s: %s) but maxUnavailable has no room: the gate stays True",
			in.Settings.PolicyName, in.Settings.ConditionType, d.Reason, d.Message))}
	}
	st.FlipHeld, st.HoldTold = true, false
	if requeue == 0 || requeue > in.Settings.Interval {
		requeue = in.Settings.Interval
	}
	return Plan{State: st, Event: ev, Requeue: requeue}
}

// planRelease sets a gate True that nothing decides any more, so no pod is
// left unready forever: one with no condition too, such as a pod created
// while its policy did not compile. Gates readygate did not write are the
// caller's to leave alone.
func planRelease(in PodInput) Plan {
	if isTrue(in.Current) {
		return Plan{}
	}
	d := Decision{Status: corev1.ConditionTrue, Reason: in.Release}
	switch in.Release {
	case v1alpha1.ReasonPolicyDeleted:
		d.Message = fmt.Sprintf("policy %s was deleted with onDelete: Release", in.Settings.PolicyName)
		if in.Settings.PolicyName == "" { // released from the memory of deleted policies, which keeps no name
			d.Message = "its policy was deleted with onDelete: Release"
		}
	default:
		d.Message = fmt.Sprintf("no policy selects this pod for %s any more: the gate is released", in.Settings.ConditionType)
	}
	c := Condition(in.Settings.ConditionType, in.Current, d, metav1.NewTime(in.Now))
	return Plan{Write: &c, Event: &PodEvent{corev1.EventTypeNormal, EventGateFlipped, Cut(fmt.Sprintf("%s is True (%s): %s", in.Settings.ConditionType, d.Reason, d.Message))}}
}

// nextEvaluation is when to look at the pod again without an event: never,
// when the gate is settled and nothing but the pod can change it (a pod event
// will come first); otherwise at the interval, or the timeout if sooner.
func nextEvaluation(in PodInput, d Decision) time.Duration {
	if d.Settled() && in.ReadsOnlyPod {
		return 0
	}
	next := in.Settings.Interval
	if d.TimeoutIn > 0 && d.TimeoutIn < next {
		next = d.TimeoutIn
	}
	return next
}

// sameStatusAndReason reports whether the condition has d's status and reason.
func sameStatusAndReason(c *corev1.PodCondition, d Decision) bool {
	return c != nil && c.Status == d.Status && c.Reason == d.Reason
}

// Sooner is the earlier of two requeues, where zero is none.
func Sooner(a, b time.Duration) time.Duration {
	if a == 0 || b == 0 {
		return max(a, b)
	}
	return min(a, b)
}

// dryRunEvent tells of a changed verdict in DryRun.
func dryRunEvent(s Settings, d Decision) *PodEvent {
	return &PodEvent{corev1.EventTypeNormal, v1alpha1.ReasonDryRun, Cut(fmt.Sprintf(
		"policy %s (DryRun) would set %s to %s (%s): %s", s.PolicyName, s.ConditionType, d.Status, d.Reason, d.Message))}
}

// flipEvent tells of a changed status on the pod: a change of its traffic,
// also when a switch between DryRun and Enforce makes it.
func flipEvent(conditionType string, d Decision) *PodEvent {
	typ := corev1.EventTypeWarning
	if d.Status == corev1.ConditionTrue && d.Reason != v1alpha1.ReasonTimedOut {
		typ = corev1.EventTypeNormal
	}
	return &PodEvent{typ, EventGateFlipped, Cut(fmt.Sprintf("%s is %s (%s): %s", conditionType, d.Status, d.Reason, d.Message))}
}

// dryRunPrefix starts the message of a DryRun gate; the verdict follows, so
// that the status survives a restart in the pod itself.
const dryRunPrefix = "would be "

// dryRun turns a verdict into the DryRun condition: True, and the verdict in
// the message as "would be <status> (<reason>): <message>".
func dryRun(d Decision) Decision {
	return Decision{Status: corev1.ConditionTrue, Reason: v1alpha1.ReasonDryRun,
		Message:  fmt.Sprintf("%s%s (%s): %s", dryRunPrefix, d.Status, d.Reason, d.Message),
		Counters: d.Counters, TimeoutIn: d.TimeoutIn, Stale: d.Stale}
}

func (s Settings) dryRunning() bool { return s.DryRun && !s.Suspended }

// Verdict is the verdict a pod's condition stands for under the policy. In
// DryRun the gate says True and its message the verdict, which DryRun
// decides on. Otherwise it is the condition itself: a DryRun gate just
// switched to Enforce is a True gate serving traffic, which errors hold,
// whose flip counts under maxUnavailable and is told in an Event, and whose
// failOpenAfter starts when it turns False.
func (s Settings) Verdict(c *corev1.PodCondition) *corev1.PodCondition {
	if s.dryRunning() {
		return VerdictOf(c)
	}
	return c
}

// VerdictOf returns the verdict a condition carries: itself, or for a DryRun
// gate the would-be condition its message records.
func VerdictOf(c *corev1.PodCondition) *corev1.PodCondition {
	if c == nil || c.Reason != v1alpha1.ReasonDryRun {
		return c
	}
	rest, ok := strings.CutPrefix(c.Message, dryRunPrefix)
	status, rest, ok2 := strings.Cut(rest, " (")
	reason, msg, ok3 := strings.Cut(rest, "): ")
	if !ok || !ok2 || !ok3 {
		return nil // not ours to read: decide afresh
	}
	v := *c
	v.Status, v.Reason, v.Message = corev1.ConditionStatus(status), reason, msg
	return &v
}

func isTrue(c *corev1.PodCondition) bool {
	return c != nil && c.Status == corev1.ConditionTrue
}
