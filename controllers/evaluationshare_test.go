package controllers

import (
	"fmt"
	"testing"
	"time"

	"github.com/readygate/readygate/internal/cel"
)

func TestEvaluationShareSlowsTheNamespaceThatSpends(t *testing.T) {
	s := newEvaluationShare(2_000_000, 8)
	now := time.Now()
	for range 3 {
		if w, _ := s.begin("shop", now); w != 0 {
			t.Fatalf("a namespace that spent little waits %v", w)
		}
		s.end("shop", cel.Budget/2)
	}
	// One and a half budgets over the bucket: 5,000,000 units at 2,000,000 a second, and a tenth of jitter.
	if w, busy := s.begin("shop", time.Now()); busy || w < 2400*time.Millisecond || w > 2800*time.Millisecond {
		t.Fatalf("after three half-budget evaluations the namespace waits %v, want 2.5s and at most a tenth more", w)
	}
	if w, _ := s.begin("bank", now); w != 0 {
		t.Fatalf("another namespace waits %v for the one that spent", w)
	}
	if w, _ := s.begin("shop", time.Now().Add(3*time.Second)); w != 0 {
		t.Fatalf("the namespace still waits %v once its bucket refilled", w)
	}
	unlimited := newEvaluationShare(0, 8)
	unlimited.end("shop", cel.Budget)
	if w, _ := unlimited.begin("shop", now); w != 0 {
		t.Fatalf("with no limit a namespace waits %v", w)
	}
}

// The bucket is checked before an evaluation and charged after it, so
// without a cap on those under way every worker could start one of the same
// namespace's costly evaluations at once.
func TestEvaluationShareCapsANamespacesEvaluationsUnderWay(t *testing.T) {
	s := newEvaluationShare(2_000_000, 8)
	now := time.Now()
	started := 0
	for range 64 {
		if w, _ := s.begin("shop", now); w == 0 {
			started++
		}
	}
	if started != 8 {
		t.Fatalf("%d of 64 evaluations of one namespace started at once, want 8", started)
	}
	if w, busy := s.begin("shop", now); !busy || w < busyRetry {
		t.Fatalf("a namespace at its evaluations under way waits %v (busy %v), want %v", w, busy, busyRetry)
	}
	if w, _ := s.begin("bank", now); w != 0 {
		t.Fatalf("another namespace waits %v while the first has its evaluations under way", w)
	}
	s.end("shop", 10)
	if w, _ := s.begin("shop", now); w != 0 {
		t.Fatalf("an evaluation that ended did not free its place: wait %v", w)
	}
}

// A namespace that is gone is forgotten once enough are kept: its bucket
// refills and nothing is under way.
func TestEvaluationShareForgetsNamespacesAtRest(t *testing.T) {
	s := newEvaluationShare(2_000_000, 8)
	for i := range sweepAbove + 1 {
		ns := fmt.Sprintf("ns-%d", i)
		s.begin(ns, time.Now())
		s.end(ns, 0)
	}
	if len(s.namespaces) > sweepAbove {
		t.Fatalf("%d namespaces at rest are kept", len(s.namespaces))
	}
}

// A debt smaller than a nanosecond's refill still waits: a zero would start
// an evaluation that no end follows, and the count under way would go
// negative for good.
func TestEvaluationShareNeverStartsOnADebt(t *testing.T) {
	s := newEvaluationShare(3_000_000, 8)
	t0 := time.Now()
	s.begin("shop", t0)
	s.namespaces["shop"].bucket.ReserveN(t0, cel.Budget)
	s.namespaces["shop"].bucket.ReserveN(t0, 1)
	if w, _ := s.begin("shop", t0.Add(333*time.Nanosecond)); w == 0 {
		t.Fatal("a namespace a thousandth of a unit in debt started an evaluation")
	}
	if n := s.namespaces["shop"].underWay; n != 1 {
		t.Fatalf("%d evaluations under way, want the one begun", n)
	}
}
