package gate

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	corev1 "k8s.io/api/core/v1"

	"github.com/readygate/readygate/api/v1alpha1"
)

// TestPlanPod has a row for every behaviour rule of the design (§3, 1–14)
// that decides what to write for a pod.
func TestPlanPod(t *testing.T) {
	enforce := Settings{PolicyName: "p", ConditionType: "readygate.io/x", Thresholds: Thresholds{Success: 1, Failure: 2, Interval: 10 * time.Second}}
	failOnError := enforce
	failOnError.OnErrorFail = true
	failOpen := enforce
	failOpen.FailOpenAfter = time.Minute
	dryRunSettings := enforce
	dryRunSettings.DryRun = true
	dryRunFailOpen := dryRunSettings
	dryRunFailOpen.Failure, dryRunFailOpen.FailOpenAfter = 1, time.Minute
	suspended := enforce
	suspended.Suspended = true
	trueCond := cond(corev1.ConditionTrue, v1alpha1.ReasonExpressionTrue, t0)
	falseCond := cond(corev1.ConditionFalse, v1alpha1.ReasonExpressionFalse, t0)
	dryRunTrue := &corev1.PodCondition{Type: "readygate.io/x", Status: corev1.ConditionTrue, Reason: v1alpha1.ReasonDryRun, Message: "would be True (ExpressionTrue): ok"}
	dryRunFalse := &corev1.PodCondition{Type: "readygate.io/x", Status: corev1.ConditionTrue, Reason: v1alpha1.ReasonDryRun, Message: "would be False (ExpressionFalse): no"}
	dryRunTimedOut := &corev1.PodCondition{Type: "readygate.io/x", Status: corev1.ConditionTrue, Reason: v1alpha1.ReasonDryRun, Message: "would be True (TimedOut): failing open"}
	dryRunUnavailable := &corev1.PodCondition{Type: "readygate.io/x", Status: corev1.ConditionTrue, Reason: v1alpha1.ReasonDryRun, Message: "would be False (SourceUnavailable): prometheus: down"}
	obs := func(o Outcome, msg string) Observation { return Observation{Outcome: o, Message: msg} }
	admit := func() bool { return true }
	refuse := func() bool { return false }

	cases := []struct {
		rule, name string
		in         PodInput
		// want is "Status/Reason" of the write, or "" for no write.
		want      string
		wantEvent string
		wantState func(State) bool
		wantPlan  func(Plan) bool
		wantMsg   string
	}{
		{rule: "1", name: "a gated pod carries the condition from its first evaluation on",
			in: PodInput{Settings: enforce, Gated: true, Observation: obs(OutcomeFalse, "cold")}, want: "False/ExpressionFalse", wantMsg: "cold"},
		{rule: "1", name: "a selected pod without the gate gets one Event and no write",
			in: PodInput{Settings: enforce, Observation: obs(OutcomeFalse, "")}, wantEvent: EventMissingGate,
			wantState: func(s State) bool { return s.MissingGateReported }},
		{rule: "1", name: "the missing-gate Event is told once",
			in: PodInput{Settings: enforce, State: State{MissingGateReported: true}}, wantState: func(s State) bool { return s.MissingGateReported }},
		{rule: "1", name: "while a new leader reads the Events, a pod without the gate is not told yet",
			in:        PodInput{Settings: enforce, Observation: obs(OutcomeFalse, ""), ToldUnread: true},
			wantState: func(s State) bool { return !s.MissingGateReported }, wantPlan: func(p Plan) bool { return p.Requeue == ToldRetry }},
		{rule: "2", name: "an unchanged condition is not written",
			in: PodInput{Settings: enforce, Gated: true, Current: cond(corev1.ConditionFalse, v1alpha1.ReasonExpressionFalse, t0), Observation: obs(OutcomeFalse, "m")}},
		{rule: "2", name: "a changed message is written without a flip or an Event",
			in: PodInput{Settings: enforce, Gated: true, Current: falseCond, Observation: obs(OutcomeFalse, "colder")}, want: "False/ExpressionFalse", wantMsg: "colder"},
		{rule: "2", name: "a message that changes again within an interval of the last write waits for it",
			in:        PodInput{Settings: enforce, Gated: true, Current: falseCond, State: State{Written: t0}, Observation: obs(OutcomeFalse, "colder"), Now: t0.Add(time.Second)},
			wantState: func(s State) bool { return s.Written.Equal(t0) }},
		{rule: "2", name: "a message that changed is written an interval after the last write",
			in:   PodInput{Settings: enforce, Gated: true, Current: falseCond, State: State{Written: t0}, Observation: obs(OutcomeFalse, "colder"), Now: t0.Add(10 * time.Second)},
			want: "False/ExpressionFalse", wantMsg: "colder", wantState: func(s State) bool { return s.Written.Equal(t0.Add(10 * time.Second)) }},
		{rule: "2", name: "a flip is written at once, however recent the last write",
			in:   PodInput{Settings: enforce, Gated: true, Current: falseCond, State: State{Written: t0}, Observation: obs(OutcomeTrue, ""), Now: t0.Add(time.Second)},
			want: "True/ExpressionTrue", wantEvent: EventGateFlipped},
		{rule: "2", name: "a changed reason is written at once, however recent the last write",
			in:   PodInput{Settings: enforce, Gated: true, Current: falseCond, State: State{Written: t0}, Observation: obs(OutcomeError, "boom"), Now: t0.Add(time.Second)},
			want: "False/EvaluationError"},
		{rule: "11", name: "DryRun: a changed verdict is written at once, however recent the last write",
			in:   PodInput{Settings: dryRunSettings, Gated: true, Current: dryRunFalse, State: State{Written: t0}, Observation: obs(OutcomeTrue, "ok"), Now: t0.Add(time.Second)},
			want: "True/DryRun", wantEvent: v1alpha1.ReasonDryRun, wantMsg: "would be True (ExpressionTrue): ok"},
		{rule: "11", name: "switching to DryRun sets a False gate True at once, however recent the last write",
			in:   PodInput{Settings: dryRunSettings, Gated: true, Current: falseCond, State: State{Written: t0}, Observation: obs(OutcomeFalse, "m"), Now: t0.Add(time.Second)},
			want: "True/DryRun", wantEvent: EventGateFlipped, wantMsg: "would be False (ExpressionFalse): m"},
		{rule: "11", name: "switching to Enforce writes the enforcing reason at once, however recent the last write",
			in:   PodInput{Settings: enforce, Gated: true, Current: dryRunTrue, State: State{Written: t0}, Observation: obs(OutcomeTrue, "ok"), Now: t0.Add(time.Second)},
			want: "True/ExpressionTrue"},
		{rule: "11", name: "DryRun: a changed message alone waits as in Enforce",
			in: PodInput{Settings: dryRunSettings, Gated: true, Current: dryRunFalse, State: State{Written: t0}, Observation: obs(OutcomeFalse, "colder"), Now: t0.Add(time.Second)}},
		{rule: "3", name: "a true expression writes ExpressionTrue and the flip is an Event",
			in: PodInput{Settings: enforce, Gated: true, Current: falseCond, Observation: obs(OutcomeTrue, "")}, want: "True/ExpressionTrue", wantEvent: EventGateFlipped},
		{rule: "4", name: "onError Hold: an evaluation error holds a True gate, stale, no write",
			in: PodInput{Settings: enforce, Gated: true, Current: trueCond, Observation: obs(OutcomeError, "no such key")}, wantState: func(s State) bool { return s.Stale && s.StaleMessage == "no such key" }},
		{rule: "4", name: "onError Hold: Prometheus down holds a True gate forever, not only below failureThreshold",
			in:        PodInput{Settings: enforce, Gated: true, Current: trueCond, State: State{Counters: Counters{Failures: 5}}, Observation: obs(OutcomeSourceUnavailable, "prometheus: refused"), Now: t0.Add(time.Hour)},
			wantState: func(s State) bool { return s.Stale && s.Counters.Failures == 5 }},
		{rule: "4", name: "onError Fail: an error counts as a false result",
			in:   PodInput{Settings: failOnError, Gated: true, Current: trueCond, State: State{Counters: Counters{Failures: 1, Counted: t0}}, Observation: obs(OutcomeSourceUnavailable, "prometheus: refused"), Now: t0.Add(10 * time.Second), AdmitFlip: admit},
			want: "False/SourceUnavailable", wantEvent: EventGateFlipped},
		{rule: "4", name: "the pod's own endpoint not answering is a verdict",
			in:   PodInput{Settings: enforce, Gated: true, Current: trueCond, State: State{Counters: Counters{Failures: 1, Counted: t0}}, Observation: obs(OutcomeUnreachable, "http: refused"), Now: t0.Add(10 * time.Second), AdmitFlip: admit},
			want: "False/SourceUnavailable", wantEvent: EventGateFlipped},
		{rule: "4", name: "a gate not yet True stays False with the error's reason",
			in: PodInput{Settings: enforce, Gated: true, Current: falseCond, Observation: obs(OutcomeError, "no such key")}, want: "False/EvaluationError", wantMsg: "no such key"},
		{rule: "5", name: "failOpenAfter fails open with TimedOut and an Event, even on errors",
			in:   PodInput{Settings: failOpen, Gated: true, Current: falseCond, Observation: obs(OutcomeError, "boom"), ContainersReadySince: t0, Now: t0.Add(time.Minute)},
			want: "True/TimedOut", wantEvent: EventGateFlipped},
		{rule: "6", name: "the pod a policy owns is planned with its settings only",
			in:   PodInput{Settings: Settings{PolicyName: "older", ConditionType: "readygate.io/x", Thresholds: Thresholds{Success: 2, Failure: 1, Interval: time.Second}}, Gated: true, Observation: obs(OutcomeTrue, "")},
			want: "False/" + ReasonSuccessThresholdNotMet},
		{rule: "7", name: "a deleted policy with onDelete Release sets a False gate True",
			in: PodInput{Settings: enforce, Release: v1alpha1.ReasonPolicyDeleted, Current: falseCond, Now: t0}, want: "True/PolicyDeleted", wantEvent: EventGateFlipped},
		{rule: "7", name: "a deleted policy with onDelete Release sets True a gate it never wrote",
			in: PodInput{Settings: enforce, Release: v1alpha1.ReasonPolicyDeleted, Now: t0}, want: "True/PolicyDeleted", wantEvent: EventGateFlipped},
		{rule: "7", name: "a released True gate is not written again",
			in: PodInput{Settings: enforce, Release: v1alpha1.ReasonPolicyDeleted, Current: trueCond, Now: t0}},
		{rule: "8", name: "after a restart, a source not fetched yet leaves a True gate alone",
			in: PodInput{Settings: enforce, Gated: true, Current: trueCond, Observation: obs(OutcomePending, "waiting for the first fetch of http")}},
		{rule: "8", name: "a result not in yet (an evaluation put off) gives a new pod False saying why",
			in: PodInput{Settings: enforce, Gated: true, Observation: obs(OutcomePending, "evaluation put off")}, want: "False/SourceUnavailable", wantMsg: "evaluation put off"},
		{rule: "9", name: "a result not in yet keeps a held flip held, so its Event is not told again",
			in:        PodInput{Settings: enforce, Gated: true, Current: trueCond, State: State{FlipHeld: true, Counters: Counters{Failures: 2, Counted: t0}}, Observation: obs(OutcomePending, "evaluation put off")},
			wantState: func(s State) bool { return s.FlipHeld && s.Counters.Failures == 2 }},
		{rule: "4", name: "a result not in yet keeps a stale gate stale, with its error",
			in:        PodInput{Settings: enforce, Gated: true, Current: trueCond, State: State{Stale: true, StaleMessage: "boom"}, Observation: obs(OutcomePending, "evaluation put off")},
			wantState: func(s State) bool { return s.Stale && s.StaleMessage == "boom" }},
		{rule: "11", name: "a result not in yet under DryRun still writes True",
			in: PodInput{Settings: dryRunSettings, Gated: true, Observation: obs(OutcomePending, "evaluation put off")}, want: "True/DryRun"},
		{rule: "5", name: "failOpenAfter counts while results are not in",
			in:   PodInput{Settings: failOpen, Gated: true, Current: falseCond, Observation: obs(OutcomePending, "evaluation put off"), ContainersReadySince: t0, Now: t0.Add(time.Minute)},
			want: "True/TimedOut", wantEvent: EventGateFlipped},
		{rule: "9", name: "a hold is remembered for the status count, not written",
			in:        PodInput{Settings: enforce, Gated: true, Current: trueCond, State: State{Counters: Counters{Failures: 1, Counted: t0}}, Observation: obs(OutcomeFalse, "no"), Now: t0.Add(10 * time.Second), AdmitFlip: refuse},
			wantEvent: EventFlipDeferred, wantState: func(s State) bool { return s.FlipHeld }},
		{rule: "10", name: "a flip to False is a Warning Event",
			in:   PodInput{Settings: enforce, Gated: true, Current: trueCond, State: State{Counters: Counters{Failures: 1, Counted: t0}}, Observation: obs(OutcomeFalse, "no"), Now: t0.Add(10 * time.Second), AdmitFlip: admit},
			want: "False/ExpressionFalse", wantEvent: EventGateFlipped},
		{rule: "11", name: "DryRun writes True with the would-be verdict",
			in: PodInput{Settings: dryRunSettings, Gated: true, Observation: obs(OutcomeFalse, "cold")}, want: "True/DryRun", wantMsg: "would be False (ExpressionFalse): cold"},
		{rule: "5", name: "DryRun of a long-ready pod with failOpenAfter tells a would-be flip to False, not a timeout",
			in: PodInput{Settings: dryRunFailOpen, Gated: true, Current: dryRunTrue, Observation: obs(OutcomeFalse, "cold"),
				ContainersReadySince: t0, Now: t0.Add(time.Hour), AdmitFlip: admit},
			want: "True/DryRun", wantEvent: v1alpha1.ReasonDryRun, wantMsg: "would be False (ExpressionFalse): cold"},
		{rule: "11", name: "DryRun tells a changed verdict in an Event, still True",
			in: PodInput{Settings: dryRunSettings, Gated: true, Current: dryRunFalse, Observation: obs(OutcomeTrue, "ok")}, want: "True/DryRun", wantEvent: v1alpha1.ReasonDryRun, wantMsg: "would be True (ExpressionTrue): ok"},
		{rule: "11", name: "DryRun to Enforce: a would-be False pod goes False within maxUnavailable",
			in:   PodInput{Settings: enforce, Gated: true, Current: dryRunFalse, State: State{Counters: Counters{Failures: 2, Counted: t0}}, Observation: obs(OutcomeFalse, "no"), Now: t0.Add(time.Second), AdmitFlip: admit},
			want: "False/ExpressionFalse", wantEvent: EventGateFlipped},
		{rule: "4", name: "DryRun to Enforce during an outage: a serving pod whose would-be verdict is an error stays True",
			in:        PodInput{Settings: enforce, Gated: true, Current: dryRunUnavailable, Observation: obs(OutcomeSourceUnavailable, "prometheus: down"), Now: t0.Add(time.Second), AdmitFlip: admit},
			wantState: func(s State) bool { return s.Stale }},
		{rule: "4", name: "DryRun to Enforce: a serving pod stays True while its first result under Enforce is not in",
			in: PodInput{Settings: enforce, Gated: true, Current: dryRunUnavailable, Observation: obs(OutcomePending, "waiting for the first fetch of prometheus"), Now: t0.Add(time.Second), AdmitFlip: admit}},
		{rule: "5", name: "DryRun to Enforce: a long-ready pod that goes False gets the whole failOpenAfter from the switch",
			in: PodInput{Settings: failOpen, Gated: true, Current: dryRunFalse, State: State{Counters: Counters{Failures: 2, Counted: t0}}, Observation: obs(OutcomeFalse, "no"),
				ContainersReadySince: t0, Now: t0.Add(time.Hour), AdmitFlip: admit},
			want: "False/ExpressionFalse", wantEvent: EventGateFlipped, wantPlan: func(p Plan) bool { return p.Requeue == failOpen.Interval }},
		{rule: "5", name: "DryRun to Enforce: a pod DryRun says failed open stays open until the expression holds once, as under Enforce",
			in: PodInput{Settings: failOpen, Gated: true, Current: dryRunTimedOut, State: State{Counters: Counters{Failures: 2, Counted: t0}}, Observation: obs(OutcomeFalse, "no"),
				ContainersReadySince: t0, Now: t0.Add(time.Hour), AdmitFlip: admit}},
		{rule: "11", name: "DryRun to Enforce: without room the pod stays True",
			in:        PodInput{Settings: enforce, Gated: true, Current: dryRunFalse, State: State{Counters: Counters{Failures: 2, Counted: t0}}, Observation: obs(OutcomeFalse, "no"), Now: t0.Add(time.Second), AdmitFlip: refuse},
			wantEvent: EventFlipDeferred, wantState: func(s State) bool { return s.FlipHeld }},
		{rule: "11", name: "DryRun to Enforce: a would-be True pod keeps True with the enforcing reason",
			in: PodInput{Settings: enforce, Gated: true, Current: dryRunTrue, Observation: obs(OutcomeTrue, "ok")}, want: "True/ExpressionTrue"},
		{rule: "12", name: "maxUnavailable: a True-to-False flip without room is held, one Event",
			in:        PodInput{Settings: enforce, Gated: true, Current: trueCond, State: State{Counters: Counters{Failures: 1, Counted: t0}}, Observation: obs(OutcomeFalse, "no"), Now: t0.Add(10 * time.Second), AdmitFlip: refuse},
			wantEvent: EventFlipDeferred, wantState: func(s State) bool { return s.FlipHeld && s.Counters.Failures == 2 }},
		{rule: "12", name: "maxUnavailable: a held flip is not told twice",
			in:        PodInput{Settings: enforce, Gated: true, Current: trueCond, State: State{FlipHeld: true, Counters: Counters{Failures: 2, Counted: t0}}, Observation: obs(OutcomeFalse, "no"), Now: t0.Add(10 * time.Second), AdmitFlip: refuse},
			wantState: func(s State) bool { return s.FlipHeld }},
		{rule: "12", name: "maxUnavailable: while a new leader reads the Events, a hold is not told and the state waits for them",
			in:        PodInput{Settings: enforce, Gated: true, Current: trueCond, State: State{Counters: Counters{Failures: 1, Counted: t0}}, Observation: obs(OutcomeFalse, "no"), Now: t0.Add(10 * time.Second), AdmitFlip: refuse, ToldUnread: true},
			wantState: func(s State) bool { return !s.FlipHeld && s.Counters.Failures == 1 }, wantPlan: func(p Plan) bool { return p.Requeue == ToldRetry }},
		{rule: "12", name: "maxUnavailable: while a new leader reads the Events, a flip with room is written",
			in:   PodInput{Settings: enforce, Gated: true, Current: trueCond, State: State{Counters: Counters{Failures: 1, Counted: t0}}, Observation: obs(OutcomeFalse, "no"), Now: t0.Add(10 * time.Second), AdmitFlip: admit, ToldUnread: true},
			want: "False/ExpressionFalse", wantEvent: EventGateFlipped},
		{rule: "12", name: "maxUnavailable: a hold an earlier leader told is not told again, and is remembered held",
			in:        PodInput{Settings: enforce, Gated: true, Current: trueCond, State: State{HoldTold: true, Counters: Counters{Failures: 1, Counted: t0}}, Observation: obs(OutcomeFalse, "no"), Now: t0.Add(10 * time.Second), AdmitFlip: refuse},
			wantState: func(s State) bool { return s.FlipHeld && !s.HoldTold }},
		{rule: "12", name: "maxUnavailable: a hold an earlier leader told stays told while the result is not in",
			in:        PodInput{Settings: enforce, Gated: true, Current: trueCond, State: State{HoldTold: true}, Observation: obs(OutcomePending, "waiting for the first fetch of http")},
			wantState: func(s State) bool { return s.HoldTold && !s.FlipHeld }},
		{rule: "12", name: "maxUnavailable: a hold an earlier leader told stays told while false results count to failureThreshold again",
			in:        PodInput{Settings: enforce, Gated: true, Current: trueCond, State: State{HoldTold: true}, Observation: obs(OutcomeFalse, "no"), Now: t0.Add(10 * time.Second)},
			wantState: func(s State) bool { return s.HoldTold && s.Counters.Failures == 1 }},
		{rule: "12", name: "maxUnavailable: a true result ends a hold an earlier leader told, so the next one is told",
			in:        PodInput{Settings: enforce, Gated: true, Current: trueCond, State: State{HoldTold: true}, Observation: obs(OutcomeTrue, "m"), Now: t0.Add(10 * time.Second)},
			wantState: func(s State) bool { return !s.HoldTold }},
		{rule: "12", name: "maxUnavailable: a flip with room ends a hold an earlier leader told",
			in:   PodInput{Settings: enforce, Gated: true, Current: trueCond, State: State{HoldTold: true, Counters: Counters{Failures: 1, Counted: t0}}, Observation: obs(OutcomeFalse, "no"), Now: t0.Add(10 * time.Second), AdmitFlip: admit},
			want: "False/ExpressionFalse", wantEvent: EventGateFlipped, wantState: func(s State) bool { return !s.HoldTold && !s.FlipHeld }},
		{rule: "12", name: "maxUnavailable: an error between held verdicts keeps the hold, so it is not told again",
			in:        PodInput{Settings: enforce, Gated: true, Current: trueCond, State: State{FlipHeld: true, Counters: Counters{Failures: 2, Counted: t0}}, Observation: obs(OutcomeError, "boom"), Now: t0.Add(10 * time.Second), AdmitFlip: refuse},
			wantState: func(s State) bool { return s.FlipHeld && s.Stale }},
		{rule: "12", name: "maxUnavailable: a true result ends the hold",
			in:        PodInput{Settings: enforce, Gated: true, Current: trueCond, State: State{FlipHeld: true, Counters: Counters{Failures: 2, Counted: t0}}, Observation: obs(OutcomeTrue, "m"), Now: t0.Add(10 * time.Second), AdmitFlip: refuse},
			wantState: func(s State) bool { return !s.FlipHeld }},
		{rule: "12", name: "maxUnavailable is not asked for a first condition",
			in: PodInput{Settings: enforce, Gated: true, Observation: obs(OutcomeFalse, "no"), AdmitFlip: func() bool { panic("asked") }}, want: "False/ExpressionFalse"},
		{rule: "13", name: "a False gate no policy decides any more is released NotSelected",
			in: PodInput{Settings: Settings{ConditionType: "readygate.io/x"}, Release: v1alpha1.ReasonNotSelected, Current: falseCond, Now: t0}, want: "True/NotSelected", wantEvent: EventGateFlipped},
		{rule: "13", name: "suspended: every gate is released True",
			in: PodInput{Settings: suspended, Gated: true, Current: falseCond}, want: "True/Suspended", wantEvent: EventGateFlipped},
		{rule: "14", name: "the error a True gate is held on is kept cut to 1,024 bytes",
			in:        PodInput{Settings: enforce, Gated: true, Current: trueCond, Observation: obs(OutcomeError, strings.Repeat("é", 1<<19))},
			wantState: func(s State) bool { return s.Stale && len(s.StaleMessage) <= MaxMessageBytes }},
		{rule: "14", name: "a 1 MiB message is cut to 1,024 bytes",
			in: PodInput{Settings: enforce, Gated: true, Observation: obs(OutcomeFalse, strings.Repeat("é", 1<<19))}, want: "False/ExpressionFalse"},
	}
	for _, tc := range cases {
		t.Run("rule "+tc.rule+": "+tc.name, func(t *testing.T) {
			if tc.in.AdmitFlip == nil {
				tc.in.AdmitFlip = func() bool { t.Fatal("maxUnavailable asked without a True-to-False flip"); return false }
			}
			if tc.in.Now.IsZero() {
				tc.in.Now = t0
			}
			plan := PlanPod(tc.in)
			got := ""
			if plan.Write != nil {
				got = string(plan.Write.Status) + "/" + plan.Write.Reason
				if len(plan.Write.Message) > MaxMessageBytes || !utf8.ValidString(plan.Write.Message) {
					t.Fatalf("message of %d bytes, or not UTF-8", len(plan.Write.Message))
				}
				if tc.wantMsg != "" && plan.Write.Message != tc.wantMsg {
					t.Fatalf("message %q, want %q", plan.Write.Message, tc.wantMsg)
				}
			}
			if got != tc.want {
				t.Fatalf("write %q, want %q", got, tc.want)
			}
			gotEvent := ""
			if plan.Event != nil {
				gotEvent = plan.Event.Reason
				if len(plan.Event.Note) > MaxMessageBytes {
					t.Fatalf("event note of %d bytes", len(plan.Event.Note))
				}
			}
			if gotEvent != tc.wantEvent {
				t.Fatalf("event %q, want %q", gotEvent, tc.wantEvent)
			}
			if tc.wantPlan != nil && !tc.wantPlan(plan) {
				t.Fatalf("plan %+v", plan)
			}
			if tc.wantState != nil && !tc.wantState(plan.State) {
				t.Fatalf("state %+v", plan.State)
			}
		})
	}
}

func TestRequeue(t *testing.T) {
	s := Settings{ConditionType: "readygate.io/x", Thresholds: Thresholds{Success: 1, Failure: 1, Interval: 10 * time.Second, FailOpenAfter: time.Minute}}
	trueCond := cond(corev1.ConditionTrue, v1alpha1.ReasonExpressionTrue, t0)
	cases := []struct {
		name string
		in   PodInput
		want time.Duration
	}{
		{"a settled gate over pod data waits for a pod event", PodInput{Settings: s, Gated: true, Current: trueCond, Observation: Observation{Outcome: OutcomeTrue}, ReadsOnlyPod: true}, 0},
		{"a gate over sources looks again at the interval", PodInput{Settings: s, Gated: true, Current: trueCond, Observation: Observation{Outcome: OutcomeTrue}}, 10 * time.Second},
		{"a stale gate looks again at the interval", PodInput{Settings: s, Gated: true, Current: trueCond, Observation: Observation{Outcome: OutcomeError}, ReadsOnlyPod: true}, 10 * time.Second},
		{"a changed message waiting for its interval is looked at again when it is due", PodInput{Settings: s, Gated: true, Current: cond(corev1.ConditionFalse, v1alpha1.ReasonExpressionFalse, t0),
			State: State{Written: t0}, Observation: Observation{Outcome: OutcomeFalse, Message: "colder"}, ReadsOnlyPod: true, Now: t0.Add(4 * time.Second)}, 6 * time.Second},
		{"a fail-open due sooner than the interval", PodInput{Settings: s, Gated: true, Observation: Observation{Outcome: OutcomeFalse}, ReadsOnlyPod: true, ContainersReadySince: t0, Now: t0.Add(55 * time.Second)}, 5 * time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.in.AdmitFlip = func() bool { return true }
			if tc.in.Now.IsZero() {
				tc.in.Now = t0
			}
			if got := PlanPod(tc.in).Requeue; got != tc.want {
				t.Fatalf("requeue %s, want %s", got, tc.want)
			}
		})
	}
}

func TestVerdictOfReadsBackTheDryRunMessage(t *testing.T) {
	d := dryRun(Decision{Status: corev1.ConditionFalse, Reason: v1alpha1.ReasonExpressionFalse, Message: "x (y): z"})
	v := VerdictOf(&corev1.PodCondition{Status: d.Status, Reason: d.Reason, Message: d.Message})
	if v == nil || v.Status != corev1.ConditionFalse || v.Reason != v1alpha1.ReasonExpressionFalse || v.Message != "x (y): z" {
		t.Fatalf("verdict %+v", v)
	}
	if VerdictOf(&corev1.PodCondition{Reason: v1alpha1.ReasonDryRun, Message: "written by hand"}) != nil {
		t.Fatal("a DryRun message that is not ours must not be read as a verdict")
	}
}

func TestSooner(t *testing.T) {
	for _, tc := range []struct{ a, b, want time.Duration }{
		{0, 0, 0}, {0, time.Second, time.Second}, {time.Second, 0, time.Second}, {time.Second, time.Minute, time.Second}, {time.Minute, time.Second, time.Second},
	} {
		if got := Sooner(tc.a, tc.b); got != tc.want {
			t.Errorf("Sooner(%v, %v) = %v, want %v: zero is no requeue", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestReleaseMessageNamesThePolicyWhenKnown(t *testing.T) {
	for name, want := range map[string]string{
		"quarantine": "policy quarantine was deleted with onDelete: Release",
		"":           "its policy was deleted with onDelete: Release",
	} {
		plan := PlanPod(PodInput{Settings: Settings{PolicyName: name, ConditionType: "readygate.io/x"}, Release: v1alpha1.ReasonPolicyDeleted, Now: time.Now()})
		if plan.Write == nil || plan.Write.Message != want {
			t.Errorf("policy %q: the release writes %+v, want the message %q", name, plan.Write, want)
		}
	}
}
