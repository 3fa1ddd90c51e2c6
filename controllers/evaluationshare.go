package controllers

import (
	"math/rand/v2"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/readygate/readygate/internal/cel"
)

// DefaultEvaluationCostPerNamespace is --evaluation-cost-per-namespace: the
// CEL cost units one namespace's evaluations may spend a second, about half
// a core. A typical expression costs tens of units, a loop over a scrape's
// 50,000 series about 50,000; the 10,000,000 of one evaluation's budget took
// nearly three seconds of CPU, so a few dozen pods of one tenant's runaway
// policy, re-evaluated every second, would hold both cores and every worker.
const DefaultEvaluationCostPerNamespace = 2_000_000

// busyRetry is when an evaluation put off because its namespace has as many
// under way as it may is tried again.
const busyRetry = time.Second

// evaluationShare gives each namespace a bucket of CEL cost that refills at
// a fixed rate and holds one whole evaluation's budget, and a number of
// evaluations it may run at once. A namespace that spent more, or has that
// many under way, waits: its pods' evaluations are put off until its bucket
// has refilled. Other namespaces' evaluations do not wait, and one
// namespace never holds more than its number of the workers.
type evaluationShare struct {
	perSecond  rate.Limit
	inFlight   int
	mu         sync.Mutex
	namespaces map[string]*namespaceShare
	// keptAfterSweep is how many namespaces the last sweep kept: the next
	// sweep waits until there are twice as many, so that a cluster of many
	// namespaces in debt is not scanned at every evaluation.
	keptAfterSweep int
}

// namespaceShare is one namespace's bucket and its evaluations under way.
type namespaceShare struct {
	bucket   *rate.Limiter
	underWay int
}

// sweepAbove is how many namespaces are kept before those at rest (nothing
// under way, a full bucket) are forgotten.
const sweepAbove = 256

func newEvaluationShare(perSecond, inFlight int) *evaluationShare {
	return &evaluationShare{perSecond: rate.Limit(perSecond), inFlight: max(inFlight, 1), namespaces: map[string]*namespaceShare{}}
}

// begin reports how long the namespace's next evaluation must wait, with a
// tenth of jitter so that the pods put off together do not all come back at
// once, and whether it waits for its evaluations under way rather than for
// its bucket; zero starts it, and end must follow.
func (s *evaluationShare) begin(namespace string, now time.Time) (time.Duration, bool) {
	if s.perSecond <= 0 {
		return 0, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ns := s.namespaces[namespace]
	if ns == nil {
		ns = &namespaceShare{bucket: rate.NewLimiter(s.perSecond, cel.Budget)}
		s.namespaces[namespace] = ns
	}
	busy := false
	var wait time.Duration
	switch tokens := ns.bucket.TokensAt(now); {
	case tokens < 0:
		// At least a millisecond: a debt under a nanosecond's refill must
		// not read as a start that no end would follow.
		wait = max(time.Duration(-tokens/float64(s.perSecond)*float64(time.Second)), time.Millisecond)
	case ns.underWay >= s.inFlight:
		wait, busy = busyRetry, true
	default:
		ns.underWay++
		return 0, false
	}
	return wait + rand.N(wait/10+1), busy
}

// end takes a started evaluation's cost from its namespace's bucket, into
// debt if need be, charged as of when it ended.
func (s *evaluationShare) end(namespace string, cost int64) {
	if s.perSecond <= 0 {
		return
	}
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	ns := s.namespaces[namespace]
	if ns == nil {
		return
	}
	ns.underWay--
	if cost > 0 {
		ns.bucket.ReserveN(now, int(min(cost, cel.Budget)))
	}
	if len(s.namespaces) > max(sweepAbove, 2*s.keptAfterSweep) {
		for name, other := range s.namespaces {
			if other.underWay == 0 && other.bucket.TokensAt(now) >= float64(other.bucket.Burst()) {
				delete(s.namespaces, name)
			}
		}
		s.keptAfterSweep = len(s.namespaces)
	}
}
