package controllers

import (
	"context"
	"errors"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

var (
	unavailable = apierrors.NewServiceUnavailable("etcd is slow")
	throttled   = apierrors.NewTooManyRequests("too many requests", 1)
	refused     = apierrors.NewForbidden(schema.GroupResource{Resource: "pods"}, "web-0", errors.New("no"))
)

func podIn(ns, name string) types.NamespacedName {
	return types.NamespacedName{Namespace: ns, Name: name}
}

// A transient failure pauses the namespace's writes: one probe per pause,
// the pause doubling up to maxPause; the pods that waited are evaluated
// again once a write goes through. Other namespaces write on.
func TestWriteBreakerPausesANamespaceAndProbes(t *testing.T) {
	b := newWriteBreaker(func([]types.NamespacedName) {})
	now := time.Unix(1000, 0)
	a, c := podIn("shop", "a"), podIn("shop", "c")
	if ok, _ := b.allow(a, now); !ok {
		t.Fatal("a write was paused before any failed")
	}
	if _, wait, paused := b.done(a, unavailable, now); !paused || wait <= 0 {
		t.Fatalf("a 503 did not pause the namespace's writes (paused %v, wait %s)", paused, wait)
	}
	// A write sent before the pause that fails too does not lengthen it.
	b.done(c, context.DeadlineExceeded, now)
	if ok, _ := b.allow(c, now.Add(50*time.Millisecond)); ok {
		t.Fatal("a write went during the pause")
	}
	if ok, _ := b.allow(podIn("other", "x"), now); !ok {
		t.Fatal("another namespace's write was paused")
	}
	probe := now.Add(firstPause + firstPause/5 + time.Millisecond)
	if ok, _ := b.allow(c, probe); !ok {
		t.Fatal("no probe after the first pause")
	}
	if ok, _ := b.allow(a, probe); ok {
		t.Fatal("a second probe went while the first was under way")
	}
	b.done(c, throttled, probe)
	if ok, _ := b.allow(a, probe.Add(firstPause+firstPause/5+time.Millisecond)); ok {
		t.Fatal("the pause did not double after a failed probe")
	}
	last := probe.Add(2*firstPause + 2*firstPause/5 + time.Millisecond)
	if ok, _ := b.allow(a, last); !ok {
		t.Fatal("no probe after the doubled pause")
	}
	resumed, wait, _ := b.done(a, nil, last)
	if wait != 0 || resumed != 2 {
		t.Fatalf("after a write went through: wait %s, evaluating again %d pods; want the 2 that waited", wait, resumed)
	}
	if ok, _ := b.allow(c, last); !ok {
		t.Fatal("writes stayed paused after one went through")
	}
}

// The pause grows to maxPause, however many probes fail; a probe whose
// reconcile never wrote holds the next one for maxPause at most.
func TestWriteBreakerPauseIsBounded(t *testing.T) {
	b := newWriteBreaker(func([]types.NamespacedName) {})
	now := time.Unix(1000, 0)
	pod := podIn("shop", "a")
	b.allow(pod, now)
	b.done(pod, unavailable, now)
	for range 40 {
		now = now.Add(maxPause + maxPause/5 + time.Millisecond)
		if ok, _ := b.allow(pod, now); !ok {
			t.Fatalf("no probe %s after the last", maxPause+maxPause/5)
		}
		b.done(pod, unavailable, now)
	}
	now = now.Add(maxPause + maxPause/5 + time.Millisecond)
	if ok, _ := b.allow(pod, now); !ok {
		t.Fatal("no probe")
	}
	// That probe's reconcile wrote nothing after all.
	if ok, _ := b.allow(podIn("shop", "b"), now.Add(time.Second)); ok {
		t.Fatal("a second probe while the first may still write")
	}
	if ok, _ := b.allow(podIn("shop", "b"), now.Add(maxPause+time.Millisecond)); !ok {
		t.Fatal("a probe that never reported held the writes for good")
	}
}

// A refusal is the write's own fault: it pauses nothing, and says the API
// server answers, which ends a pause.
func TestWriteBreakerIgnoresRefusals(t *testing.T) {
	b := newWriteBreaker(func([]types.NamespacedName) {})
	now := time.Unix(1000, 0)
	if _, wait, paused := b.done(podIn("shop", "a"), refused, now); paused || wait != 0 {
		t.Fatal("a 403 paused the namespace's writes")
	}
	b.done(podIn("shop", "a"), unavailable, now)
	b.allow(podIn("shop", "b"), now) // waits
	if resumed, _, _ := b.done(podIn("shop", "a"), refused, now.Add(time.Second)); resumed != 2 {
		t.Fatalf("an answer from the API server resumed %d pods, want the 2", resumed)
	}
}

func TestWriteFailedTransiently(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{unavailable, true},
		{throttled, true},
		{apierrors.NewInternalError(errors.New("failed calling webhook")), true},
		{apierrors.NewTimeoutError("slow", 1), true},
		{context.DeadlineExceeded, true},
		{refused, false},
		{apierrors.NewConflict(schema.GroupResource{Resource: "pods"}, "web-0", errors.New("uid")), false},
	} {
		if got := writeFailedTransiently(tc.err); got != tc.want {
			t.Errorf("%v: transient %v, want %v", tc.err, got, tc.want)
		}
	}
}

// As a pause ends, a pod that waits is evaluated again, to probe: the
// others wait on, with nothing to wake them but the probe's success.
func TestWriteBreakerWakesAProbeAsAPauseEnds(t *testing.T) {
	woken := make(chan types.NamespacedName, 4)
	b := newWriteBreaker(func(pods []types.NamespacedName) {
		for _, pod := range pods {
			woken <- pod
		}
	})
	a, c := podIn("shop", "a"), podIn("shop", "c")
	b.done(a, unavailable, time.Now())
	b.allow(c, time.Now())
	select {
	case pod := <-woken:
		if pod != a && pod != c {
			t.Fatalf("woke %v, which does not wait", pod)
		}
	case <-time.After(firstPause + time.Second):
		t.Fatal("no pod woken to probe after the pause")
	}
	select {
	case pod := <-woken:
		t.Fatalf("woke %v too: one probe per pause", pod)
	case <-time.After(2 * firstPause):
	}
}
