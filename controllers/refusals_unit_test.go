package controllers

import (
	"context"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// A refused pod waits, the wait doubling up to maxRefusalWait; a write that
// goes through ends it, and a new pod of the same name does not inherit it.
func TestWriteRefusalsBackOffThePod(t *testing.T) {
	w := newWriteRefusals()
	ctx, now, a := context.Background(), time.Unix(1000, 0), podIn("shop", "a")
	if wait := w.record(ctx, a, "uid-1", refused, now); wait < firstRefusalWait || wait > firstRefusalWait*6/5 {
		t.Fatalf("a first refusal waits %s, want %s and up to a fifth more", wait, firstRefusalWait)
	}
	if wait := w.waiting(a, "uid-1", now.Add(firstRefusalWait/2)); wait <= 0 {
		t.Fatal("a refused pod wrote again before its wait ended")
	}
	if wait := w.waiting(a, "uid-2", now); wait != 0 {
		t.Fatal("a new pod of the same name waited out the old one's refusal")
	}
	if wait := w.record(ctx, a, "uid-1", refused, now); wait < 2*firstRefusalWait {
		t.Fatalf("a second refusal in a row waits %s, want it doubled", wait)
	}
	for range 20 {
		if wait := w.record(ctx, a, "uid-1", refused, now); wait > maxRefusalWait*6/5 {
			t.Fatalf("a refused pod waits %s, beyond %s", wait, maxRefusalWait)
		}
	}
	w.record(ctx, a, "uid-1", nil, now)
	if wait := w.waiting(a, "uid-1", now); wait != 0 || len(w.pods) != 0 || len(w.namespaces) != 0 {
		t.Fatalf("a write that went through left the pod waiting %s, %d pods and %d namespaces kept", wait, len(w.pods), len(w.namespaces))
	}
}

// A namespace's refusals are told once per refusalLogPeriod, with how many
// came since; each namespace on its own.
func TestWriteRefusalsAreToldOncePerPeriod(t *testing.T) {
	w := newWriteRefusals()
	now := time.Unix(1000, 0)
	if _, count := w.refused(podIn("shop", "a"), "a", now); count != 1 {
		t.Fatalf("the first refusal told %d, want 1", count)
	}
	for i := range 9 {
		if _, count := w.refused(podIn("shop", "b"), "b", now.Add(time.Duration(i)*time.Second)); count != 0 {
			t.Fatal("a refusal was told again within the period")
		}
	}
	if _, count := w.refused(podIn("other", "x"), "x", now); count != 1 {
		t.Fatal("another namespace's refusal waited for this one's period")
	}
	if _, count := w.refused(podIn("shop", "a"), "a", now.Add(refusalLogPeriod)); count != 10 {
		t.Fatalf("the next line told %d refusals, want the 10 since the last", count)
	}
	w.forget(podIn("shop", "a"))
	w.forget(podIn("shop", "b"))
	if _, ok := w.namespaces["shop"]; ok {
		t.Fatal("a namespace's line outlived its refused pods")
	}
}

// A conflict (the pod replaced under the write's uid precondition), a
// transient failure and a pod gone are no refusal.
func TestWriteRefused(t *testing.T) {
	pods := schema.GroupResource{Resource: "pods"}
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"forbidden", refused, true},
		{"invalid", apierrors.NewInvalid(schema.GroupKind{Kind: "Pod"}, "web-0", nil), true},
		{"conflict", apierrors.NewConflict(pods, "web-0", nil), false},
		{"throttled", throttled, false},
		{"unavailable", unavailable, false},
		{"timeout", context.DeadlineExceeded, false},
		{"none", nil, false},
	} {
		if got := writeRefused(tc.err); got != tc.want {
			t.Errorf("%s: writeRefused = %v, want %v", tc.name, got, tc.want)
		}
	}
}
