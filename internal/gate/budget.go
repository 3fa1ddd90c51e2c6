package gate

import (
	"sync"
	"time"
)

// FlipBudget limits how many gates go from True to False per interval
// (maxUnavailable), so a bad expression or a failing source cannot pull a
// whole fleet out of traffic at once.
type FlipBudget struct {
	mu          sync.Mutex
	windowStart time.Time
	used        int
}

// Take spends one flip if the current window of length interval has fewer
// than limit flips, and reports whether it did.
func (b *FlipBudget) Take(now time.Time, interval time.Duration, limit int) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if now.Sub(b.windowStart) >= interval {
		b.windowStart, b.used = now, 0
	}
	if b.used >= limit {
		return false
	}
	b.used++
	return true
}

// NextWindow is how long until the budget refills.
func (b *FlipBudget) NextWindow(now time.Time, interval time.Duration) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	return max(b.windowStart.Add(interval).Sub(now), 0)
}
