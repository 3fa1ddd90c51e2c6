package policy

import (
	"time"

	"github.com/readygate/readygate/api/v1alpha1"
	"github.com/readygate/readygate/internal/gate"
)

// maxCarry bounds how long a new leader shows the previous leader's held
// and stale counts, whatever a tenant sets interval and failureThreshold
// to: three times the default warm-up, well within the alerts' for: clocks.
const maxCarry = 2 * time.Minute

// CarryWindows are how long a new leader takes to learn again which pods
// are held and which stale, both of which live in the leader's memory: a
// pod is held again once it has failed failureThreshold times, stale once
// its source's next fetch fails; one interval more covers the fetches'
// jitter. At most maxCarry.
func CarryWindows(t gate.Thresholds) (held, stale time.Duration) {
	return min(time.Duration(t.Failure+1)*t.Interval, maxCarry), min(2*t.Interval, maxCarry)
}

// CarryOver keeps, while a leader that has led for led learns them again,
// the held and stale counts the status shows where it counts fewer: a
// failover during a source outage would otherwise show heldPods and
// staleDataPods 0, tell StaleDataCleared while nothing cleared, and
// restart the alerts' for: clocks on them. Only a status written for the
// policy's current generation carries (an edit, a suspension, may have
// ended the holds), and at most as many pods as are True: held and stale
// gates are True gates.
func CarryOver(p *v1alpha1.ReadinessGatePolicy, s Summary, led time.Duration, t gate.Thresholds) Summary {
	prev := p.Status
	if prev.ObservedGeneration != p.Generation || p.Spec.Suspend {
		return s
	}
	held, stale := CarryWindows(t)
	if led < held {
		s.Held = max(s.Held, min(prev.HeldPods, s.Ready))
	}
	if led < stale {
		s.Stale = max(s.Stale, min(prev.StaleDataPods, s.Ready))
	}
	return s
}
