package gate

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/readygate/readygate/api/v1alpha1"
)

// The Events an earlier leader left fold into what is told of a pod: a
// missing gate at all, a hold at its latest.
func TestToldAdd(t *testing.T) {
	cases := []struct {
		name   string
		events []string
		at     []time.Time
		want   Told
	}{
		{name: "nothing told", want: Told{}},
		{name: "a missing gate", events: []string{EventMissingGate}, at: []time.Time{t0}, want: Told{MissingGate: true}},
		{name: "a hold", events: []string{EventFlipDeferred}, at: []time.Time{t0}, want: Told{Held: t0}},
		{name: "two holds keep the later, in either order", events: []string{EventFlipDeferred, EventFlipDeferred},
			at: []time.Time{t0.Add(time.Minute), t0}, want: Told{Held: t0.Add(time.Minute)}},
		{name: "both", events: []string{EventFlipDeferred, EventMissingGate}, at: []time.Time{t0, t0}, want: Told{MissingGate: true, Held: t0}},
		{name: "another reason tells nothing", events: []string{EventGateFlipped}, at: []time.Time{t0}, want: Told{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got Told
			for i, reason := range tc.events {
				got = got.Add(reason, tc.at[i])
			}
			if got != tc.want {
				t.Fatalf("told %+v, want %+v", got, tc.want)
			}
		})
	}
}

// A new leader tells a hold only when no Event told it during the gate's
// current True spell, and a missing gate only when none told it at all.
func TestToldResume(t *testing.T) {
	trueSince := cond(corev1.ConditionTrue, v1alpha1.ReasonExpressionTrue, t0)
	cases := []struct {
		name              string
		told              Told
		cur               *corev1.PodCondition
		state             State
		missing, holdTold bool
	}{
		{name: "nothing told", cur: trueSince},
		{name: "a missing gate told", told: Told{MissingGate: true}, missing: true},
		{name: "a missing gate remembered stays so", state: State{MissingGateReported: true}, missing: true},
		{name: "a hold told in the gate's True spell", told: Told{Held: t0.Add(time.Minute)}, cur: trueSince, holdTold: true},
		{name: "a hold told the second the gate turned True", told: Told{Held: t0}, cur: trueSince, holdTold: true},
		{name: "a hold told before the gate turned True was of an earlier spell", told: Told{Held: t0.Add(-time.Second)}, cur: trueSince},
		{name: "a gate now False holds nothing", told: Told{Held: t0.Add(time.Minute)}, cur: cond(corev1.ConditionFalse, v1alpha1.ReasonExpressionFalse, t0)},
		{name: "a pod without the condition holds nothing", told: Told{Held: t0.Add(time.Minute)}},
		// Its reconciles before the Events were read counted a true result
		// (a settled pod is reconciled again only on its next event, maybe
		// hours later): the hold told ended, and a new one is told.
		{name: "a hold the new leader saw end is over", told: Told{Held: t0.Add(time.Minute)}, cur: trueSince,
			state: State{Counters: Counters{Successes: 1, Counted: t0.Add(2 * time.Minute)}}},
		{name: "a hold the new leader counts on is resumed", told: Told{Held: t0.Add(time.Minute)}, cur: trueSince,
			state: State{Counters: Counters{Failures: 2, Counted: t0.Add(2 * time.Minute)}}, holdTold: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.told.Resume(tc.state, tc.cur)
			if got.MissingGateReported != tc.missing || got.HoldTold != tc.holdTold {
				t.Fatalf("state %+v, want MissingGateReported %t and HoldTold %t", got, tc.missing, tc.holdTold)
			}
		})
	}
}
