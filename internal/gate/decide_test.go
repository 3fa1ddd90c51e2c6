package gate

import (
	"encoding/json"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/readygate/readygate/api/v1alpha1"
)

var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func cond(status corev1.ConditionStatus, reason string, since time.Time) *corev1.PodCondition {
	return &corev1.PodCondition{Type: "readygate.io/x", Status: status, Reason: reason, Message: "m", LastTransitionTime: metav1.NewTime(since)}
}

func TestDecide(t *testing.T) {
	th := Thresholds{Success: 2, Failure: 3}
	withTimeout := Thresholds{Success: 1, Failure: 1, FailOpenAfter: time.Minute}
	failOnError := Thresholds{Success: 2, Failure: 3, OnErrorFail: true}
	cases := []struct {
		name       string
		in         Input
		wantStatus corev1.ConditionStatus
		wantReason string
		wantCount  Counters
		wantTimer  time.Duration
	}{
		{"first false result carries the condition at once",
			Input{Observation: Observation{Outcome: OutcomeFalse}, Thresholds: th},
			corev1.ConditionFalse, v1alpha1.ReasonExpressionFalse, Counters{Failures: 1}, 0},
		{"first true result below successThreshold stays False",
			Input{Observation: Observation{Outcome: OutcomeTrue}, Thresholds: th},
			corev1.ConditionFalse, ReasonSuccessThresholdNotMet, Counters{Successes: 1}, 0},
		{"successThreshold reached turns True",
			Input{Current: cond("False", ReasonSuccessThresholdNotMet, t0), Counters: Counters{Successes: 1}, Observation: Observation{Outcome: OutcomeTrue}, Thresholds: th},
			corev1.ConditionTrue, v1alpha1.ReasonExpressionTrue, Counters{Successes: 2}, 0},
		{"a false result resets the success count",
			Input{Current: cond("False", ReasonSuccessThresholdNotMet, t0), Counters: Counters{Successes: 1}, Observation: Observation{Outcome: OutcomeFalse}, Thresholds: th},
			corev1.ConditionFalse, v1alpha1.ReasonExpressionFalse, Counters{Failures: 1}, 0},
		{"True holds below failureThreshold",
			Input{Current: cond("True", v1alpha1.ReasonExpressionTrue, t0), Counters: Counters{Failures: 1}, Observation: Observation{Outcome: OutcomeFalse}, Thresholds: th},
			corev1.ConditionTrue, v1alpha1.ReasonExpressionTrue, Counters{Failures: 2}, 0},
		{"onError Hold: an error holds a True gate and counts nothing",
			Input{Current: cond("True", v1alpha1.ReasonExpressionTrue, t0), Counters: Counters{Failures: 2}, Observation: Observation{Outcome: OutcomeError, Message: "boom"}, Thresholds: th},
			corev1.ConditionTrue, v1alpha1.ReasonExpressionTrue, Counters{Failures: 2}, 0},
		{"onError Hold: Prometheus down holds a True gate",
			Input{Current: cond("True", v1alpha1.ReasonExpressionTrue, t0), Counters: Counters{Failures: 2}, Observation: Observation{Outcome: OutcomeSourceUnavailable, Message: "dial"}, Thresholds: th},
			corev1.ConditionTrue, v1alpha1.ReasonExpressionTrue, Counters{Failures: 2}, 0},
		{"onError Fail: an unavailable source counts toward failureThreshold",
			Input{Current: cond("True", v1alpha1.ReasonExpressionTrue, t0), Counters: Counters{Failures: 2}, Observation: Observation{Outcome: OutcomeSourceUnavailable, Message: "dial"}, Thresholds: failOnError},
			corev1.ConditionFalse, v1alpha1.ReasonSourceUnavailable, Counters{Failures: 3}, 0},
		{"the pod's own endpoint not answering counts toward failureThreshold whatever onError",
			Input{Current: cond("True", v1alpha1.ReasonExpressionTrue, t0), Counters: Counters{Failures: 2}, Observation: Observation{Outcome: OutcomeUnreachable, Message: "refused"}, Thresholds: th},
			corev1.ConditionFalse, v1alpha1.ReasonSourceUnavailable, Counters{Failures: 3}, 0},
		{"failureThreshold reached turns False",
			Input{Current: cond("True", v1alpha1.ReasonExpressionTrue, t0), Counters: Counters{Failures: 2}, Observation: Observation{Outcome: OutcomeFalse}, Thresholds: th},
			corev1.ConditionFalse, v1alpha1.ReasonExpressionFalse, Counters{Failures: 3}, 0},
		{"an error on a False gate says so",
			Input{Current: cond("False", v1alpha1.ReasonExpressionFalse, t0), Observation: Observation{Outcome: OutcomeError, Message: "no such key"}, Thresholds: th},
			corev1.ConditionFalse, v1alpha1.ReasonEvaluationError, Counters{}, 0},
		{"an error still lets a not-True gate fail open",
			Input{Observation: Observation{Outcome: OutcomeError, Message: "no such key"}, Thresholds: withTimeout, ContainersReadySince: t0, Now: t0.Add(time.Minute)},
			corev1.ConditionTrue, v1alpha1.ReasonTimedOut, Counters{}, 0},
		{"timeout not yet due reports time left",
			Input{Observation: Observation{Outcome: OutcomeFalse}, Thresholds: withTimeout, ContainersReadySince: t0, Now: t0.Add(20 * time.Second)},
			corev1.ConditionFalse, v1alpha1.ReasonExpressionFalse, Counters{Failures: 1}, 40 * time.Second},
		{"timeout fails open",
			Input{Observation: Observation{Outcome: OutcomeFalse}, Thresholds: withTimeout, ContainersReadySince: t0, Now: t0.Add(time.Minute)},
			corev1.ConditionTrue, v1alpha1.ReasonTimedOut, Counters{Failures: 1}, 0},
		{"timeout waits for ready containers",
			Input{Observation: Observation{Outcome: OutcomeFalse}, Thresholds: withTimeout, Now: t0.Add(time.Hour)},
			corev1.ConditionFalse, v1alpha1.ReasonExpressionFalse, Counters{Failures: 1}, 0},
		{"timeout counts from a later flip to False",
			Input{Current: cond("False", v1alpha1.ReasonExpressionFalse, t0.Add(time.Hour)), Observation: Observation{Outcome: OutcomeFalse}, Thresholds: withTimeout, ContainersReadySince: t0, Now: t0.Add(time.Hour + 30*time.Second)},
			corev1.ConditionFalse, v1alpha1.ReasonExpressionFalse, Counters{Failures: 1}, 30 * time.Second},
		{"a True gate of a long-ready pod flips False at failureThreshold, with the whole timeout ahead",
			Input{Current: cond("True", v1alpha1.ReasonExpressionTrue, t0), Observation: Observation{Outcome: OutcomeFalse}, Thresholds: withTimeout, ContainersReadySince: t0, Now: t0.Add(time.Hour)},
			corev1.ConditionFalse, v1alpha1.ReasonExpressionFalse, Counters{Failures: 1}, time.Minute},
		{"a True gate of a long-ready pod held on an error stays True",
			Input{Current: cond("True", v1alpha1.ReasonExpressionTrue, t0), Observation: Observation{Outcome: OutcomeError, Message: "boom"}, Thresholds: withTimeout, ContainersReadySince: t0, Now: t0.Add(time.Hour)},
			corev1.ConditionTrue, v1alpha1.ReasonExpressionTrue, Counters{}, 0},
		{"a timed-out gate stays open while the expression is false",
			Input{Current: cond("True", v1alpha1.ReasonTimedOut, t0), Counters: Counters{Failures: 5}, Observation: Observation{Outcome: OutcomeFalse}, Thresholds: withTimeout, Now: t0},
			corev1.ConditionTrue, v1alpha1.ReasonTimedOut, Counters{Failures: 6}, 0},
		{"a pending source gives a new pod a condition that says so",
			Input{Observation: Observation{Outcome: OutcomePending, Message: "waiting for the first fetch of http"}, Thresholds: th},
			corev1.ConditionFalse, v1alpha1.ReasonSourceUnavailable, Counters{}, 0},
		{"a pending source leaves a True gate and its counters alone",
			Input{Current: cond("True", v1alpha1.ReasonExpressionTrue, t0), Counters: Counters{Failures: 2}, Observation: Observation{Outcome: OutcomePending, Message: "waiting"}, Thresholds: th},
			corev1.ConditionTrue, v1alpha1.ReasonExpressionTrue, Counters{Failures: 2}, 0},
		{"a timed-out gate becomes ExpressionTrue when the expression holds",
			Input{Current: cond("True", v1alpha1.ReasonTimedOut, t0), Observation: Observation{Outcome: OutcomeTrue}, Thresholds: withTimeout, Now: t0},
			corev1.ConditionTrue, v1alpha1.ReasonExpressionTrue, Counters{Successes: 1}, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := Decide(tc.in)
			if d.Status != tc.wantStatus || d.Reason != tc.wantReason || d.Counters.Successes != tc.wantCount.Successes || d.Counters.Failures != tc.wantCount.Failures || d.TimeoutIn != tc.wantTimer {
				t.Fatalf("got %s/%s counters %+v timer %s; want %s/%s counters %+v timer %s",
					d.Status, d.Reason, d.Counters, d.TimeoutIn, tc.wantStatus, tc.wantReason, tc.wantCount, tc.wantTimer)
			}
			if d.Message == "" {
				t.Fatal("a decision must carry a message")
			}
		})
	}
}

func TestStreakGrowsOncePerInterval(t *testing.T) {
	th := Thresholds{Success: 3, Failure: 3, Interval: 10 * time.Second}
	c := Counters{Successes: 1, Counted: t0}
	cases := []struct {
		name    string
		outcome Outcome
		at      time.Duration
		want    Counters
	}{
		{"same outcome within the interval", OutcomeTrue, 2 * time.Second, Counters{Successes: 1, Counted: t0}},
		{"same outcome an interval later", OutcomeTrue, 10 * time.Second, Counters{Successes: 2, Counted: t0.Add(10 * time.Second)}},
		{"requeue jitter still counts", OutcomeTrue, 9500 * time.Millisecond, Counters{Successes: 2, Counted: t0.Add(9500 * time.Millisecond)}},
		{"a changed outcome starts a streak at once", OutcomeFalse, time.Second, Counters{Failures: 1, Counted: t0.Add(time.Second)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := Decide(Input{Counters: c, Observation: Observation{Outcome: tc.outcome}, Thresholds: th, Now: t0.Add(tc.at)})
			if d.Counters != tc.want {
				t.Fatalf("counters %+v, want %+v", d.Counters, tc.want)
			}
		})
	}
}

// A policy that reads a polled source counts each fetched result once:
// the reconciles that pod events and the interval's requeue bring read the
// same result again, and a fetch lands anywhere in its jittered interval.
func TestStreakGrowsOncePerFetchedResult(t *testing.T) {
	th := Thresholds{Success: 3, Failure: 3, Interval: 10 * time.Second}
	c := Counters{Failures: 1, Counted: t0, Fetched: t0}
	cases := []struct {
		name    string
		fetched time.Duration
		at      time.Duration
		want    Counters
	}{
		{"the same result an interval later", 0, 10 * time.Second, c},
		{"the same result two intervals later", 0, 20 * time.Second, c},
		{"a newer result within the interval", 8 * time.Second, 8500 * time.Millisecond,
			Counters{Failures: 2, Counted: t0.Add(8500 * time.Millisecond), Fetched: t0.Add(8 * time.Second)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := Decide(Input{Current: cond("True", v1alpha1.ReasonExpressionTrue, t0), Counters: c,
				Observation: Observation{Outcome: OutcomeUnreachable, Message: "refused", Fetched: t0.Add(tc.fetched)}, Thresholds: th, Now: t0.Add(tc.at)})
			if d.Counters != tc.want {
				t.Fatalf("counters %+v, want %+v", d.Counters, tc.want)
			}
		})
	}
}

func TestConditionKeepsTransitionTimeUnlessFlipped(t *testing.T) {
	cur := cond("False", v1alpha1.ReasonExpressionFalse, t0)
	now := metav1.NewTime(t0.Add(time.Minute))
	same := Condition("readygate.io/x", cur, Decision{Status: "False", Reason: v1alpha1.ReasonEvaluationError, Message: "e"}, now)
	if !same.LastTransitionTime.Equal(&cur.LastTransitionTime) {
		t.Fatalf("lastTransitionTime moved without a flip: %v", same.LastTransitionTime)
	}
	flipped := Condition("readygate.io/x", cur, Decision{Status: "True", Reason: v1alpha1.ReasonExpressionTrue, Message: "ok"}, now)
	if !flipped.LastTransitionTime.Equal(&now) {
		t.Fatalf("lastTransitionTime did not move on a flip: %v", flipped.LastTransitionTime)
	}
}

func TestChanged(t *testing.T) {
	cur := cond("True", v1alpha1.ReasonExpressionTrue, t0)
	cases := []struct {
		d    Decision
		want bool
	}{
		{Decision{Status: "True", Reason: v1alpha1.ReasonExpressionTrue, Message: "m"}, false},
		{Decision{Status: "True", Reason: v1alpha1.ReasonExpressionTrue, Message: "other"}, true},
		{Decision{Status: "True", Reason: v1alpha1.ReasonTimedOut, Message: "m"}, true},
		{Decision{Status: "False", Reason: v1alpha1.ReasonExpressionTrue, Message: "m"}, true},
	}
	for _, tc := range cases {
		if got := Changed(cur, tc.d); got != tc.want {
			t.Errorf("Changed(%+v) = %v, want %v", tc.d, got, tc.want)
		}
	}
	if !Changed(nil, Decision{}) {
		t.Error("a pod without the condition must be written")
	}
}

func TestPatchTouchesOnlyTheOwnedCondition(t *testing.T) {
	c := Condition("readygate.io/x", nil, Decision{Status: "True", Reason: "R", Message: "M"}, metav1.NewTime(t0))
	data, err := Patch("uid-1", c)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Metadata struct{ UID string } `json:"metadata"`
		Status   map[string][]map[string]any
	}
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	if got.Metadata.UID != "uid-1" || len(got.Status) != 1 || len(got.Status["conditions"]) != 1 || got.Status["conditions"][0]["type"] != "readygate.io/x" {
		t.Fatalf("unexpected patch %s", data)
	}
}

func TestSettled(t *testing.T) {
	cases := []struct {
		d    Decision
		want bool
	}{
		{Decision{Status: "True", Counters: Counters{Successes: 3}}, true},
		{Decision{Status: "True", Counters: Counters{Failures: 1}}, false},
		{Decision{Status: "False", Counters: Counters{Failures: 2}}, true},
		{Decision{Status: "False", Counters: Counters{Successes: 1}}, false},
		{Decision{Status: "False", Counters: Counters{Failures: 1}, TimeoutIn: time.Second}, false},
		{Decision{Status: "True", Stale: true}, false},
	}
	for _, tc := range cases {
		if got := tc.d.Settled(); got != tc.want {
			t.Errorf("%+v: Settled() = %v", tc.d, got)
		}
	}
}

// TestContainersReadySinceIsNoEarlierThanThePod: the time comes from the
// kubelet's clock; a node clock behind by more than failOpenAfter would fail
// a new pod's gate open at its first evaluation. No pod's containers were
// ready before the API server created it.
func TestContainersReadySinceIsNoEarlierThanThePod(t *testing.T) {
	created := metav1.NewTime(t0)
	pod := func(ready metav1.Time) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{CreationTimestamp: created}, Status: corev1.PodStatus{Conditions: []corev1.PodCondition{
			{Type: corev1.ContainersReady, Status: corev1.ConditionTrue, LastTransitionTime: ready}}}}
	}
	if got := ContainersReadySince(pod(metav1.NewTime(t0.Add(-time.Hour)))); !got.Equal(&created) {
		t.Fatalf("a node clock an hour behind: since %s, want the pod's creation %s", got, created)
	}
	later := metav1.NewTime(t0.Add(time.Minute))
	if got := ContainersReadySince(pod(later)); !got.Equal(&later) {
		t.Fatalf("since %s, want %s", got, later)
	}
	notReady := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{CreationTimestamp: created}}
	if got := ContainersReadySince(notReady); !got.IsZero() {
		t.Fatalf("containers not ready: since %s, want zero", got)
	}
}
