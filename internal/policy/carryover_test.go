package policy

import (
	"testing"
	"time"

	"github.com/readygate/readygate/api/v1alpha1"
	"github.com/readygate/readygate/internal/gate"
)

// A new leader keeps the previous leader's held and stale counts until it
// has had time to learn them again, never above the pods matched, and only
// then reports its own.
func TestCarryOver(t *testing.T) {
	prev := v1alpha1.ReadinessGatePolicyStatus{HeldPods: 5, StaleDataPods: 3}
	for _, tc := range []struct {
		name              string
		s                 Summary
		warming           bool
		wantHeld, wantSta int32
	}{
		{"warming, nothing learnt yet", Summary{Matched: 10}, true, 5, 3},
		{"warming, more learnt than before", Summary{Matched: 10, Held: 7, Stale: 4}, true, 7, 4},
		{"warming, some learnt", Summary{Matched: 10, Held: 2}, true, 5, 3},
		{"warming, fewer pods matched than were held", Summary{Matched: 2}, true, 2, 2},
		{"warm", Summary{Matched: 10}, false, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := CarryOver(prev, tc.s, tc.warming)
			if got.Held != tc.wantHeld || got.Stale != tc.wantSta {
				t.Fatalf("held %d, stale %d; want %d, %d", got.Held, got.Stale, tc.wantHeld, tc.wantSta)
			}
			if got.Matched != tc.s.Matched {
				t.Fatalf("matched %d, want %d: only held and stale carry over", got.Matched, tc.s.Matched)
			}
		})
	}
}

// A pod is held again after failureThreshold failed intervals, stale after
// its first failed fetch: the warm-up covers both, with one interval to
// spare for the fetches' jitter.
func TestWarmUp(t *testing.T) {
	if got := WarmUp(gate.Thresholds{Failure: 3, Interval: 10 * time.Second}); got != 40*time.Second {
		t.Fatalf("warm-up %s with failureThreshold 3 and interval 10s, want 40s", got)
	}
}
