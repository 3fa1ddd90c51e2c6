package sources

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// fetchLatency is how long each endpoint of the throughput benchmark takes
// to answer: a slow but healthy pod.
const fetchLatency = 100 * time.Millisecond

// BenchmarkPollerThroughput measures the fetches per second the default
// poller (256 workers, BytesInFlight) completes against endpoints that
// answer in fetchLatency, with its targets in one namespace and spread over
// eight. Each fetch reserves MaxBodyBytes of the budget while it runs, so at
// most BytesInFlight/MaxBodyBytes fetches run at once, and a quarter of that
// for one namespace. docs/scaling.md reports it:
//
//	go test ./internal/sources -run '^$' -bench PollerThroughput -benchtime=1x
func BenchmarkPollerThroughput(b *testing.B) {
	for _, namespaces := range []int{1, 8} {
		b.Run(fmt.Sprintf("namespaces=%d", namespaces), func(b *testing.B) {
			for b.Loop() {
				b.ReportMetric(pollerThroughput(namespaces, 2000, 5*time.Second), "fetches/s")
			}
		})
	}
}

// pollerThroughput polls targets each wanting a fetch a second and counts
// the fetches completed over the window, after a warm-up.
func pollerThroughput(namespaces, targets int, window time.Duration) float64 {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		time.Sleep(fetchLatency)
		_, _ = w.Write([]byte("ok"))
	}))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p := NewPoller(256, BytesInFlight)
	go func() { _ = p.Start(ctx) }()
	c := NewClient(Rules{})
	var done atomic.Int64
	want := func() {
		for i := range targets {
			t := httpTarget(c, fmt.Sprintf("t-%d", i), fmt.Sprintf("ns-%d", i%namespaces), srv.URL, 5*time.Second)
			t.Interval = time.Second
			fetch := t.Fetch
			t.Fetch = func(ctx context.Context) (any, error) {
				defer done.Add(1)
				return fetch(ctx)
			}
			p.Want(t)
		}
	}
	// Wanted again each half interval, as the reconciles do, so that no
	// target is dropped as unwanted.
	measure := func(d time.Duration) int64 {
		start := done.Load()
		for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(500 * time.Millisecond) {
			want()
		}
		return done.Load() - start
	}
	measure(2 * time.Second)
	return float64(measure(window)) / window.Seconds()
}
