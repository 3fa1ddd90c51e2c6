package gate

import (
	"time"

	corev1 "k8s.io/api/core/v1"
)

// Told is what the Events already in the cluster tell of a pod under a
// policy: those of an earlier leader, read when this replica starts to
// lead. Memory does not survive a failover or a restart (design rule 8),
// the Events do; without them every held pod and every pod missing its gate
// would be told again, a burst of Event writes as large as the fleet.
type Told struct {
	// MissingGate is set when a MissingReadinessGate Event tells of the pod.
	MissingGate bool
	// Held is when a FlipDeferred Event last told of a held flip; zero for none.
	Held time.Time
}

// Add folds in one Event, by its reason and when it last happened.
func (t Told) Add(reason string, at time.Time) Told {
	switch reason {
	case EventMissingGate:
		t.MissingGate = true
	case EventFlipDeferred:
		if at.After(t.Held) {
			t.Held = at
		}
	}
	return t
}

// Resume folds what was told into the pod's state, so that it is not told
// again. A missing gate is told once in the pod's life, which cannot gain
// the gate (spec.readinessGates is immutable). A hold is told once per True
// spell of the gate, which began at its lastTransitionTime: a hold told
// before then was of an earlier spell, and a new one is told. Nor is a hold
// the state has seen end, with a true result counted: a pod reconciled
// while the Events were being read takes its share at its next reconcile,
// which for a settled gate is its next event, maybe hours later.
func (t Told) Resume(st State, cur *corev1.PodCondition) State {
	st.MissingGateReported = st.MissingGateReported || t.MissingGate
	st.HoldTold = st.HoldTold || isTrue(cur) && st.Counters.Successes == 0 && !t.Held.IsZero() && !t.Held.Before(cur.LastTransitionTime.Time)
	return st
}
