package sources

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/readygate/readygate/internal/cel"
)

func TestPollerFetchesOncePerKeyAndNotifiesChanges(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p := NewPoller(2, BytesInFlight)
	go func() { _ = p.Start(ctx) }()

	var fetches, changes atomic.Int32
	var fail atomic.Bool
	target := Target{Key: "pod-a/http", Source: "http", Pod: "pod-a", Interval: 50 * time.Millisecond,
		Fetch: func(context.Context) (any, error) {
			fetches.Add(1)
			if fail.Load() {
				return nil, errors.New("refused")
			}
			return "same", nil
		},
		OnChange: func() { changes.Add(1) },
	}
	// Two policies asking for the same target share one poll.
	p.Want(target)
	p.Want(target)
	if p.Len() != 1 {
		t.Fatalf("%d targets, want 1", p.Len())
	}
	// Every wait keeps wanting the target, as reconciles do; a target no one
	// wants for three intervals is dropped.
	waitFor(t, func() bool { _, ok := p.Want(target); return ok })
	waitFor(t, func() bool { p.Want(target); return fetches.Load() >= 4 })
	if changes.Load() != 1 {
		t.Fatalf("%d change notifications for an unchanged result, want 1", changes.Load())
	}
	fail.Store(true)
	waitFor(t, func() bool { r, _ := p.Want(target); return r.Err != nil })
	// Each failed fetch is a probe toward failureThreshold, so each is told,
	// the same error or not: the pod's reconcile must count every one.
	failedAt := fetches.Load()
	waitFor(t, func() bool { p.Want(target); return fetches.Load() >= failedAt+3 })
	if n := changes.Load(); n < 4 {
		t.Fatalf("%d notifications after %d failed fetches, want one per failed fetch", n-1, fetches.Load()-failedAt+1)
	}
}

func TestPollerDropsUnwantedTargets(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p := NewPoller(1, BytesInFlight)
	go func() { _ = p.Start(ctx) }()
	p.Want(Target{Key: "gone", Source: "http", Interval: 20 * time.Millisecond, Fetch: func(context.Context) (any, error) { return 1, nil }})
	waitFor(t, func() bool { return p.Len() == 0 })
}

func TestPollerBoundsConcurrency(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p := NewPoller(3, BytesInFlight)
	go func() { _ = p.Start(ctx) }()
	var running, peak, done atomic.Int32
	for i := range 20 {
		p.Want(Target{Key: string(rune('a' + i)), Source: "http", Interval: time.Hour, Fetch: func(context.Context) (any, error) {
			n := running.Add(1)
			for {
				old := peak.Load()
				if n <= old || peak.CompareAndSwap(old, n) {
					break
				}
			}
			time.Sleep(5 * time.Millisecond)
			running.Add(-1)
			done.Add(1)
			return nil, nil
		}})
	}
	waitFor(t, func() bool { return done.Load() == 20 })
	if peak.Load() > 3 {
		t.Fatalf("%d fetches ran at once, want at most 3", peak.Load())
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A fetch that panics, such as a parser tripping over a tenant's answer,
// fails that target alone: the poller, and the process, go on.
func TestPollerSurvivesAPanickingFetch(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p := NewPoller(2, BytesInFlight)
	go func() { _ = p.Start(ctx) }()
	bad := Target{Key: "bad", Source: "metrics", Interval: time.Hour, Fetch: func(context.Context) (any, error) { panic("makeslice: len out of range") }}
	good := Target{Key: "good", Source: "http", Interval: time.Hour, Fetch: func(context.Context) (any, error) { return 1, nil }}
	p.Want(bad)
	waitFor(t, func() bool { r, ok := p.Want(bad); return ok && r.Err != nil })
	if r, _ := p.Want(bad); !strings.Contains(r.Err.Error(), "makeslice: len out of range") || !errors.Is(r.Err, ErrNoVerdict) {
		t.Fatalf("err = %v, want the panic's message, and no verdict on the pod: the bug is readygate's", r.Err)
	}
	waitFor(t, func() bool { r, ok := p.Want(good); return ok && r.Err == nil })
}

// Tenants whose kept results fill the budget, polling once an hour, do not
// keep another namespace waiting for their next fetch: a result within its
// fair share makes room at once, from namespaces over theirs, whose pods
// get no verdict (Hold) until they fit again.
func TestPollerMakesRoomForANamespaceWithinItsShare(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p := NewPoller(8, BytesInFlight)
	small, big := metricsOf(1), metricsOf(100)
	p.retained = newRetention(4 * retainedBytes(big))
	go func() { _ = p.Start(ctx) }()
	target := func(ns string, v *cel.Metrics) Target {
		return Target{Key: ns + "/m", Namespace: ns, Source: "metrics", Interval: time.Hour, Fetch: func(context.Context) (any, error) { return v, nil }}
	}
	hogs := []Target{target("a", big), target("b", big), target("c", big), target("d", big)}
	for _, h := range hogs {
		p.Want(h)
	}
	for _, h := range hogs {
		waitFor(t, func() bool { r, ok := p.Want(h); return ok && r.Err == nil })
	}
	victim := target("victim", small)
	p.Want(victim)
	waitFor(t, func() bool { r, ok := p.Want(victim); return ok && r.Err == nil })
	trimmed := 0
	for _, h := range hogs {
		if r, _ := p.Want(h); r.Err != nil {
			if !errors.Is(r.Err, ErrNoVerdict) {
				t.Fatalf("namespace %s: err = %v, want no verdict on its pods", h.Namespace, r.Err)
			}
			trimmed++
		}
	}
	if trimmed == 0 {
		t.Fatal("the victim's result was kept, but no namespace over its share gave up room")
	}
}

// A reconcile that read a pod just before its deletion must not bring back
// the targets the deletion dropped: they would dial the pod's IP, back in
// the pool, for three more intervals.
func TestPollerKeepsAForgottenPodForgotten(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p := NewPoller(2, BytesInFlight)
	go func() { _ = p.Start(ctx) }()
	var fetches atomic.Int32
	late := Target{Key: "gone/http", Pod: "uid-gone", Namespace: "ns", Source: "http", Interval: time.Hour,
		Fetch: func(context.Context) (any, error) { fetches.Add(1); return 1, nil }}
	p.ForgetPod("uid-gone")
	if _, ok := p.Want(late); ok || p.Len() != 0 {
		t.Fatalf("a late Want of a forgotten pod's target: %d targets, want 0", p.Len())
	}
	if fetches.Load() != 0 {
		t.Fatal("a forgotten pod was dialled")
	}
}

// A server that every namespace's policies query, Prometheus, has a
// concurrency of its own (20 queries by default): one namespace's policies
// hold at most SharedPerNamespace of it at once, whatever their number.
func TestPollerBoundsOneNamespacesQueriesOfASharedServer(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p := NewPoller(64, BytesInFlight)
	go func() { _ = p.Start(ctx) }()
	release := make(chan struct{})
	var running, peak, done atomic.Int32
	for i := range 10 {
		p.Want(Target{Key: fmt.Sprintf("hog-%d", i), Source: "prometheus", Namespace: "hog", Shared: "prometheus.monitoring:9090",
			Interval: time.Hour, Fetch: func(context.Context) (any, error) {
				n := running.Add(1)
				for old := peak.Load(); n > old && !peak.CompareAndSwap(old, n); old = peak.Load() {
				}
				<-release
				running.Add(-1)
				done.Add(1)
				return nil, nil
			}})
	}
	var other atomic.Bool
	p.Want(Target{Key: "other", Source: "prometheus", Namespace: "other", Shared: "prometheus.monitoring:9090", Interval: time.Hour,
		Fetch: func(context.Context) (any, error) { other.Store(true); return nil, nil }})
	waitFor(t, func() bool { return running.Load() == SharedPerNamespace && other.Load() })
	close(release)
	waitFor(t, func() bool { return done.Load() == 10 })
	if peak.Load() != SharedPerNamespace {
		t.Fatalf("%d queries of one namespace ran at once, want %d", peak.Load(), SharedPerNamespace)
	}
}

// Two policies that read one endpoint at different intervals share one
// target, fetched at the shorter interval: a target polled at the interval
// of whichever asked last left the other's thresholds waiting for the slower
// interval, and a target per interval kept each result twice.
func TestPollerPollsASharedTargetAtItsShortestInterval(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p := NewPoller(4, BytesInFlight)
	go func() { _ = p.Start(ctx) }()
	var fetches atomic.Int32
	slow := Target{Key: "pod-a/http", Source: "http", Interval: time.Hour,
		Fetch: func(context.Context) (any, error) { fetches.Add(1); return 1, nil }}
	fast := slow
	fast.Interval = 20 * time.Millisecond
	p.Want(slow)
	waitFor(t, func() bool { return fetches.Load() == 1 })
	// The poll now sleeps for an hour; the fast policy's first ask wakes it.
	waitFor(t, func() bool { p.Want(slow); p.Want(fast); p.Want(slow); return fetches.Load() >= 10 })
	if p.Len() != 1 {
		t.Fatalf("%d targets, want one shared", p.Len())
	}
}

// A shared server's failure says nothing about any pod: its repeats are not
// told, or a Prometheus outage would re-evaluate every pod of every policy
// at each failed round, to no effect.
func TestPollerTellsASharedServersSameFailureOnce(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p := NewPoller(2, BytesInFlight)
	go func() { _ = p.Start(ctx) }()
	var fetches, changes atomic.Int32
	target := Target{Key: "policy/prometheus", Source: "prometheus", Shared: "http://prom:9090", Interval: 20 * time.Millisecond,
		Fetch:    func(context.Context) (any, error) { fetches.Add(1); return nil, errors.New("connection refused") },
		OnChange: func() { changes.Add(1) }}
	waitFor(t, func() bool { p.Want(target); return fetches.Load() >= 5 })
	if n := changes.Load(); n != 1 {
		t.Fatalf("%d notifications of one failure repeated %d times, want 1", n, fetches.Load())
	}
}
