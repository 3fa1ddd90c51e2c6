package controllers

import (
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

// evaluationShare gives each namespace a bucket of CEL cost that refills at
// a fixed rate and holds one whole evaluation's budget. A namespace that
// spent more waits: its pods' evaluations are put off, their gates staying
// as they are, until the bucket has refilled. Other namespaces' evaluations
// do not wait.
type evaluationShare struct {
	perSecond  rate.Limit
	mu         sync.Mutex
	namespaces map[string]*rate.Limiter
}

func newEvaluationShare(perSecond int) *evaluationShare {
	return &evaluationShare{perSecond: rate.Limit(perSecond), namespaces: map[string]*rate.Limiter{}}
}

// wait is how long the namespace's evaluations must wait; zero when it may
// evaluate now. A namespace whose bucket is full again is forgotten, so
// that the map holds only the namespaces that spend.
func (s *evaluationShare) wait(namespace string, now time.Time) time.Duration {
	if s.perSecond <= 0 {
		return 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	lim, ok := s.namespaces[namespace]
	if !ok {
		return 0
	}
	tokens := lim.TokensAt(now)
	if tokens >= float64(lim.Burst()) {
		delete(s.namespaces, namespace)
	}
	if tokens >= 0 {
		return 0
	}
	return time.Duration(-tokens / float64(s.perSecond) * float64(time.Second))
}

// spend takes an evaluation's cost from the namespace's bucket, into debt
// if need be.
func (s *evaluationShare) spend(namespace string, cost int64, now time.Time) {
	if s.perSecond <= 0 || cost <= 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	lim, ok := s.namespaces[namespace]
	if !ok {
		lim = rate.NewLimiter(s.perSecond, cel.Budget)
		s.namespaces[namespace] = lim
	}
	lim.ReserveN(now, int(min(cost, cel.Budget)))
}
