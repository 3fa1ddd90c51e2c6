package controllers

import (
	"testing"
	"time"

	"github.com/readygate/readygate/internal/cel"
)

func TestEvaluationShareSlowsTheNamespaceThatSpends(t *testing.T) {
	s := newEvaluationShare(2_000_000)
	now := time.Now()
	for range 3 {
		if w := s.wait("shop", now); w != 0 {
			t.Fatalf("a namespace that spent nothing waits %v", w)
		}
		s.spend("shop", cel.Budget/2, now)
	}
	// One and a half budgets over the bucket: 5,000,000 units at 2,000,000 a second.
	if w := s.wait("shop", now); w < 2400*time.Millisecond || w > 2600*time.Millisecond {
		t.Fatalf("after three half-budget evaluations at once the namespace waits %v, want 2.5s", w)
	}
	if w := s.wait("bank", now); w != 0 {
		t.Fatalf("another namespace waits %v for the one that spent", w)
	}
	if w := s.wait("shop", now.Add(3*time.Second)); w != 0 {
		t.Fatalf("the namespace still waits %v once its bucket refilled", w)
	}
	if _, kept := s.namespaces["shop"]; !kept {
		t.Fatal("a namespace whose bucket is not full yet was forgotten")
	}
	s.wait("shop", now.Add(time.Minute))
	if _, kept := s.namespaces["shop"]; kept {
		t.Fatal("a namespace whose bucket is full again is still kept")
	}
	unlimited := newEvaluationShare(0)
	unlimited.spend("shop", cel.Budget, now)
	if w := unlimited.wait("shop", now); w != 0 {
		t.Fatalf("with no limit a namespace waits %v", w)
	}
}
