package policy

import (
	"time"

	"github.com/readygate/readygate/api/v1alpha1"
	"github.com/readygate/readygate/internal/gate"
)

// WarmUp is how long a new leader takes to learn again which pods are held
// and stale: held and stale live in the leader's memory, and a pod is held
// again only once it has failed failureThreshold times, stale once its
// source's first fetch fails.
func WarmUp(t gate.Thresholds) time.Duration {
	return time.Duration(t.Failure+1) * t.Interval
}

// CarryOver keeps, while the leader warms up, the held and stale counts the
// previous leader wrote where this one counts fewer, up to the pods the
// policy matches: a failover during a source outage would otherwise show
// heldPods and staleDataPods 0, tell StaleDataCleared while nothing
// cleared, and restart the alerts' for: clocks on them.
func CarryOver(prev v1alpha1.ReadinessGatePolicyStatus, s Summary, warming bool) Summary {
	if !warming {
		return s
	}
	s.Held = max(s.Held, min(prev.HeldPods, s.Matched))
	s.Stale = max(s.Stale, min(prev.StaleDataPods, s.Matched))
	return s
}
