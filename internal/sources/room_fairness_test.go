package sources

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// slowServer answers "ok" after delay, and counts the answers it completed.
func slowServer(t *testing.T, delay time.Duration) (string, *atomic.Int32) {
	t.Helper()
	var answered atomic.Int32
	var asked atomic.Int32
	t.Cleanup(func() { t.Logf("the slow server was asked %d times, answered %d", asked.Load(), answered.Load()) })
	url := serve(t, func(w http.ResponseWriter, r *http.Request) {
		asked.Add(1)
		select {
		case <-time.After(delay):
			_, _ = w.Write([]byte("ok"))
			answered.Add(1)
		case <-r.Context().Done():
		}
	})
	return url, &answered
}

// Tarpits in many namespaces, each with many fetches waiting, leave
// another namespace's endpoint its verdict, one that takes 1.5 s (a probe
// with a 5 s timeout, a Prometheus round) too: a namespace that holds a
// single worker is within its share however many namespaces there are, so
// the tarpits' namespaces do not end it, and namespaces that hold alike
// take turns rather than queue fetch by fetch (design rule 18). Tarpits in
// more namespaces than there are workers are each within their share: the
// victim waits for its namespace's turn as they time out (SECURITY.md).
func TestSlowAnswersGetVerdictsBesideTarpitsInManyNamespaces(t *testing.T) {
	const workers, tarpitsEach = 16, 8
	for _, tc := range []struct {
		name          string
		namespaces    int
		tarpitTimeout time.Duration
		shared        string
		delay, within time.Duration
	}{
		{"a pod probe answering at once", 12, 30 * time.Second, "", 0, slowAnswer + 2*time.Second},
		{"a pod probe answering in 1.5 s", 12, 30 * time.Second, "", 1500 * time.Millisecond, 10 * time.Second},
		{"a Prometheus round answering in 1.5 s", 12, 30 * time.Second, "prometheus.monitoring:9090", 1500 * time.Millisecond, 10 * time.Second},
		// Each of the 49 namespaces gets its turn as the tarpits time out,
		// 16 at a time: the victim's comes within three rounds, and its
		// fetch, its namespace's one, is not ended.
		{"more namespaces than workers, a probe answering in 1.5 s", 48, 2 * time.Second, "", 1500 * time.Millisecond, 12 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := startPoller(t, workers, BytesInFlight)
			c := NewClient(Rules{})
			pit := newTarpit(t)
			wantInNamespaces(p, c, pit.URL, tc.tarpitTimeout, "attacker", tc.namespaces, tarpitsEach)
			waitFor(t, func() bool { return pit.holding.Load() == workers })

			url, answered := slowServer(t, tc.delay)
			victim := httpTarget(c, "victim", "victim", url, 5*time.Second)
			victim.Shared = tc.shared
			start := time.Now()
			var last Result
			t.Cleanup(func() {
				if t.Failed() {
					t.Logf("the victim's endpoint answered %d times; its last result: %v", answered.Load(), last.Err)
				}
			})
			waitWithin(t, tc.within, func() bool {
				r, ok := p.Want(victim)
				last = r
				return ok && r.Err == nil
			})
			t.Logf("verdict after %s", time.Since(start).Round(time.Millisecond))
		})
	}
}

// More namespaces than workers whose endpoints take 1.5 s do not end each
// other's fetches: they get their verdicts in two waves.
func TestSlowAnswersInMoreNamespacesThanWorkersAllGetVerdicts(t *testing.T) {
	const workers, namespaces = 4, 8
	p := startPoller(t, workers, BytesInFlight)
	c := NewClient(Rules{})
	url, answered := slowServer(t, 1500*time.Millisecond)
	targets := make([]Target, namespaces)
	for ns := range namespaces {
		targets[ns] = httpTarget(c, fmt.Sprintf("t-%d", ns), fmt.Sprintf("ns-%d", ns), url, 5*time.Second)
		p.Want(targets[ns])
	}
	start := time.Now()
	t.Cleanup(func() {
		if t.Failed() {
			for _, target := range targets {
				r, ok := p.Want(target)
				t.Logf("%s: ok=%t err=%v", target.Key, ok, r.Err)
			}
			t.Logf("the server completed %d answers", answered.Load())
		}
	})
	waitWithin(t, 6*time.Second, func() bool {
		for _, target := range targets {
			if r, ok := p.Want(target); !ok || r.Err != nil {
				return false
			}
		}
		return true
	})
	t.Logf("all %d verdicts in %s", namespaces, time.Since(start).Round(time.Millisecond))
}

// BenchmarkRoomIdleWithManyWaiters measures the CPU that 8,000 fetches
// waiting for room, none of which can be granted, cost: one goroutine
// looks for room for them all, where each used to walk every waiter ten
// times a second under the room's lock (0.63 cores; now about 0.02). A
// tenant's namespaces each queue up to 32 fetches for the workers at the
// default 256.
func BenchmarkRoomIdleWithManyWaiters(b *testing.B) {
	const budget, waiters = 16, 8000
	rm := newRoom(budget, slowAnswer, errMadeRoomInWorkers)
	for range budget {
		r := &reservation{weight: 1, ns: &stake{}, room: rm, cancel: func(error) {}}
		if err := rm.take(context.Background(), r); err != nil {
			b.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(context.Background())
	defer func() { cancel(); wg.Wait() }()
	for range waiters {
		l := &stake{}
		wg.Go(func() {
			r := &reservation{weight: 1, ns: l, room: rm, cancel: func(error) {}}
			_ = rm.take(ctx, r)
		})
	}
	for rm.waitingNow() < waiters {
		time.Sleep(10 * time.Millisecond)
	}
	before, start := cpu(), time.Now()
	for b.Loop() {
		time.Sleep(reclaimEvery) // one round of looking for room
	}
	b.ReportMetric((cpu()-before).Seconds()/time.Since(start).Seconds(), "cores")
}

func cpu() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
