package policy

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/readygate/readygate/api/v1alpha1"
	"github.com/readygate/readygate/internal/gate"
)

// A new leader keeps the held and stale counts of the status until it has
// had time to learn them again, never above the pods that are True, and
// only for the generation the status describes.
func TestCarryOver(t *testing.T) {
	defaults := gate.Thresholds{Failure: 3, Interval: 10 * time.Second} // held for 40 s, stale for 20 s
	policy := func(generation int64, suspend bool) *v1alpha1.ReadinessGatePolicy {
		return &v1alpha1.ReadinessGatePolicy{
			ObjectMeta: metav1.ObjectMeta{Generation: generation},
			Spec:       v1alpha1.ReadinessGatePolicySpec{Suspend: suspend},
			Status:     v1alpha1.ReadinessGatePolicyStatus{ObservedGeneration: 2, HeldPods: 5, StaleDataPods: 3},
		}
	}
	for _, tc := range []struct {
		name                string
		p                   *v1alpha1.ReadinessGatePolicy
		s                   Summary
		led                 time.Duration
		thresholds          gate.Thresholds
		wantHeld, wantStale int32
	}{
		{"nothing learnt yet", policy(2, false), Summary{Matched: 10, Ready: 10}, 0, defaults, 5, 3},
		{"more learnt than the status shows", policy(2, false), Summary{Matched: 10, Ready: 10, Held: 7, Stale: 4}, 0, defaults, 7, 4},
		{"some learnt", policy(2, false), Summary{Matched: 10, Ready: 10, Held: 2}, 0, defaults, 5, 3},
		{"fewer pods True than were held", policy(2, false), Summary{Matched: 10, Ready: 2}, 0, defaults, 2, 2},
		{"stale learnt again, held not yet", policy(2, false), Summary{Matched: 10, Ready: 10}, 30 * time.Second, defaults, 5, 0},
		{"both learnt again", policy(2, false), Summary{Matched: 10, Ready: 10}, 40 * time.Second, defaults, 0, 0},
		{"a tenant's hour-long interval", policy(2, false), Summary{Matched: 10, Ready: 10}, maxCarry, gate.Thresholds{Failure: 100, Interval: time.Hour}, 0, 0},
		{"the policy edited since the status", policy(3, false), Summary{Matched: 10, Ready: 10}, 0, defaults, 0, 0},
		{"the policy suspended", policy(2, true), Summary{Matched: 10, Ready: 10}, 0, defaults, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := CarryOver(tc.p, tc.s, tc.led, tc.thresholds)
			if got.Held != tc.wantHeld || got.Stale != tc.wantStale {
				t.Fatalf("held %d, stale %d; want %d, %d", got.Held, got.Stale, tc.wantHeld, tc.wantStale)
			}
			if got.Matched != tc.s.Matched || got.Ready != tc.s.Ready {
				t.Fatalf("matched %d, ready %d; want %d, %d: only held and stale carry over", got.Matched, got.Ready, tc.s.Matched, tc.s.Ready)
			}
		})
	}
}
