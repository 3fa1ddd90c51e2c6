// Package gate decides a pod's readiness-gate condition from evaluation
// results: thresholds, fail-open timeout, and the patch that writes it. It is
// pure: no client, no clock.
package gate

import (
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/readygate/readygate/api/v1alpha1"
)

// ReasonSuccessThresholdNotMet holds a gate False while the expression has
// been true fewer times in a row than successThreshold.
const ReasonSuccessThresholdNotMet = "SuccessThresholdNotMet"

// ReasonSuspended releases a gate because its policy is suspended.
const ReasonSuspended = "Suspended"

// Outcome classifies one evaluation.
type Outcome int

const (
	OutcomeTrue Outcome = iota
	OutcomeFalse
	// OutcomeError is an expression that failed at run time.
	OutcomeError
	// OutcomeSourceUnavailable is a source that is not the pod itself
	// (Prometheus, a Secret, the API server) failing: no verdict on the pod.
	OutcomeSourceUnavailable
	// OutcomeUnreachable is the pod's own http or metrics endpoint not
	// answering: a false result, as a failing readiness probe is.
	OutcomeUnreachable
	// OutcomePending is a source not fetched yet: no result to count.
	OutcomePending
)

// Observation is one evaluation's outcome with its message: the
// messageExpression's result, or the error.
type Observation struct {
	Outcome Outcome
	Message string
	// Fetched is when the oldest polled result the observation was made
	// from was fetched; zero when it reads no polled source.
	Fetched time.Time
}

// Counters count consecutive results; they live in memory only, so a restart
// starts counting afresh from the condition the pod carries.
type Counters struct {
	Successes int32
	Failures  int32
	// Counted is when the streak last grew. A streak grows at most once per
	// interval, so the re-evaluations that pod events (including the
	// operator's own writes) trigger do not satisfy a threshold early.
	Counted time.Time
	// Fetched is the Fetched of the observation last counted: over polled
	// sources a streak grows once per fetch instead, since every reconcile
	// reads the latest result, however old.
	Fetched time.Time
}

// Thresholds are the policy's knobs for one decision.
type Thresholds struct {
	Success int32
	Failure int32
	// Interval is the policy's evaluation period.
	Interval time.Duration
	// FailOpenAfter is the fail-open delay; zero waits forever.
	FailOpenAfter time.Duration
	// OnErrorFail counts errors that say nothing about the pod as false
	// results; otherwise (onError: Hold) they hold the gate where it is.
	OnErrorFail bool
}

// Input is everything one decision depends on.
type Input struct {
	// Current is the condition the pod carries now; nil before the first decision.
	Current     *corev1.PodCondition
	Counters    Counters
	Observation Observation
	Thresholds  Thresholds
	// ContainersReadySince is when ContainersReady last turned True; zero while not ready.
	ContainersReadySince time.Time
	Now                  time.Time
}

// Decision is the condition the pod should carry.
type Decision struct {
	Status   corev1.ConditionStatus
	Reason   string
	Message  string
	Counters Counters
	// TimeoutIn, when positive, is how long until the gate fails open.
	TimeoutIn time.Duration
	// Stale is set when a True gate is held on its last good result because
	// of an error that says nothing about the pod (onError: Hold).
	Stale bool
}

// Decide applies the thresholds and the timeout to one observation.
func Decide(in Input) Decision {
	if in.Observation.Outcome == OutcomePending {
		return pending(in)
	}
	cur := in.Current
	isTrue := cur != nil && cur.Status == corev1.ConditionTrue
	if in.Observation.isError() && !in.Thresholds.OnErrorFail {
		return hold(in, isTrue)
	}
	c := count(in.Counters, in.Observation, in.Now, in.Thresholds.Interval)

	var d Decision
	switch {
	case isTrue && failedOpen(cur) && in.Observation.Outcome != OutcomeTrue:
		// A gate that failed open stays open until the expression holds once;
		// closing it would only reopen it at the next timeout check.
		d = keep(cur)
	case isTrue && c.Failures > 0 && c.Failures < in.Thresholds.Failure:
		// Below failureThreshold a True gate stays as it is: no flip, no write.
		d = keep(cur)
	case isTrue && c.Successes > 0:
		d = Decision{Status: corev1.ConditionTrue, Reason: v1alpha1.ReasonExpressionTrue, Message: messageOr(in.Observation, "the expression is true")}
	case !isTrue && c.Successes >= in.Thresholds.Success:
		d = Decision{Status: corev1.ConditionTrue, Reason: v1alpha1.ReasonExpressionTrue, Message: messageOr(in.Observation, "the expression is true")}
	case !isTrue && c.Successes > 0:
		d = Decision{Status: corev1.ConditionFalse, Reason: ReasonSuccessThresholdNotMet,
			Message: fmt.Sprintf("the expression is true %d of %d consecutive times needed", c.Successes, in.Thresholds.Success)}
	default:
		d = falseFor(in.Observation)
	}
	d.Counters = c
	if d.Status != corev1.ConditionTrue {
		applyTimeout(&d, in)
	}
	return d
}

// failedOpen reports a gate that failed open: TimedOut, or a DryRun gate
// whose would-be verdict is, which a switch to Enforce must keep open too.
func failedOpen(c *corev1.PodCondition) bool {
	v := VerdictOf(c)
	return v != nil && v.Status == corev1.ConditionTrue && v.Reason == v1alpha1.ReasonTimedOut
}

// isError reports an outcome that says nothing about the pod.
func (o Observation) isError() bool {
	return o.Outcome == OutcomeError || o.Outcome == OutcomeSourceUnavailable
}

// hold is onError: Hold. Errors are not verdicts: a True gate keeps its
// status (and its streak), counted as stale; a gate that is not yet True
// stays False with the error's reason, and failOpenAfter still applies.
func hold(in Input, isTrue bool) Decision {
	if isTrue {
		d := keep(in.Current)
		d.Counters, d.Stale = in.Counters, true
		return d
	}
	d := falseFor(in.Observation)
	d.Counters = in.Counters
	applyTimeout(&d, in)
	return d
}

// pending keeps the gate as it is while a source has no result yet, so a
// restarted operator flips nothing before its first fetches land; a pod with
// no condition yet gets one that says what it waits for.
func pending(in Input) Decision {
	d := Decision{Status: corev1.ConditionFalse, Reason: v1alpha1.ReasonSourceUnavailable, Message: in.Observation.Message, Counters: in.Counters}
	if in.Current != nil {
		d = keep(in.Current)
		d.Counters = in.Counters
	}
	if d.Status != corev1.ConditionTrue {
		applyTimeout(&d, in)
	}
	return d
}

// Settled reports whether the decision can change only through a change to
// what the expression reads: no streak toward a threshold is under way and no
// timeout is due. A settled gate over pod data alone needs no periodic look.
func (d Decision) Settled() bool {
	if d.TimeoutIn > 0 || d.Stale {
		return false
	}
	if d.Status == corev1.ConditionTrue {
		return d.Counters.Failures == 0
	}
	return d.Counters.Successes == 0
}

// count updates the consecutive counters with one observation. A changed
// outcome starts a new streak at once; the same outcome extends the streak
// only with a newer fetched result, or, over the pod alone, once an interval
// has passed (less a tenth, for requeue jitter).
func count(c Counters, o Observation, now time.Time, interval time.Duration) Counters {
	success := o.Outcome == OutcomeTrue
	sameStreak := (success && c.Successes > 0) || (!success && c.Failures > 0)
	if sameStreak && !freshFor(c, o, now, interval) {
		return c
	}
	next := Counters{Counted: now, Fetched: o.Fetched}
	switch {
	case success && sameStreak:
		next.Successes = c.Successes + 1
	case success:
		next.Successes = 1
	case sameStreak:
		next.Failures = c.Failures + 1
	default:
		next.Failures = 1
	}
	return next
}

// freshFor reports whether the observation is one the streak has not
// counted yet.
func freshFor(c Counters, o Observation, now time.Time, interval time.Duration) bool {
	if !o.Fetched.IsZero() {
		return o.Fetched.After(c.Fetched)
	}
	return now.Sub(c.Counted) >= interval-interval/10
}

func keep(cur *corev1.PodCondition) Decision {
	return Decision{Status: cur.Status, Reason: cur.Reason, Message: cur.Message}
}

func falseFor(o Observation) Decision {
	switch o.Outcome {
	case OutcomeError:
		return Decision{Status: corev1.ConditionFalse, Reason: v1alpha1.ReasonEvaluationError, Message: o.Message}
	case OutcomeSourceUnavailable, OutcomeUnreachable:
		return Decision{Status: corev1.ConditionFalse, Reason: v1alpha1.ReasonSourceUnavailable, Message: o.Message}
	default:
		return Decision{Status: corev1.ConditionFalse, Reason: v1alpha1.ReasonExpressionFalse, Message: messageOr(o, "the expression is false")}
	}
}

func messageOr(o Observation, fallback string) string {
	if o.Message != "" {
		return o.Message
	}
	return fallback
}

// applyTimeout fails a not-True gate open once the containers have been ready
// for the timeout while the gate was not True. The clock starts at the later
// of the containers turning ready and the gate turning False, so a gate that
// fell to False later in the pod's life gets the full timeout again; a True
// gate that this decision flips turns False now, and its clock starts now.
func applyTimeout(d *Decision, in Input) {
	if in.Thresholds.FailOpenAfter <= 0 || in.ContainersReadySince.IsZero() {
		return
	}
	since := in.ContainersReadySince
	switch {
	case in.Current != nil && in.Current.Status == corev1.ConditionTrue:
		since = in.Now
	case in.Current != nil && in.Current.LastTransitionTime.After(since):
		since = in.Current.LastTransitionTime.Time
	}
	left := in.Thresholds.FailOpenAfter - in.Now.Sub(since)
	if left > 0 {
		d.TimeoutIn = left
		return
	}
	d.Status = corev1.ConditionTrue
	d.Reason = v1alpha1.ReasonTimedOut
	d.Message = fmt.Sprintf("containers have been ready for %s (failOpenAfter) without the gate turning True; failing open", in.Thresholds.FailOpenAfter)
}
