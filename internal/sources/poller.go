package sources

import (
	"context"
	"math/rand/v2"
	"reflect"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

var (
	fetchSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "readygate_source_fetch_duration_seconds",
		Help:    "Time to fetch a source, by source.",
		Buckets: prometheus.ExponentialBuckets(0.0005, 4, 9),
	}, []string{"source"})
	fetchErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "readygate_source_errors_total",
		Help: "Failed source fetches, by source.",
	}, []string{"source"})
)

func init() {
	metrics.Registry.MustRegister(fetchSeconds, fetchErrors)
}

// Fetch fetches one target once.
type Fetch func(ctx context.Context) (any, error)

// Result is a target's latest fetch.
type Result struct {
	Value any
	Err   error
	At    time.Time
}

// Target is what a caller wants polled.
type Target struct {
	// Key identifies the target: the same key from several policies is fetched once.
	Key string
	// Source names the source in metrics, e.g. http.
	Source   string
	Interval time.Duration
	Fetch    Fetch
	// OnChange is called when a fetch's result differs from the previous one.
	OnChange func()
}

// Poller fetches every wanted target once per interval, with jitter, in a
// bounded pool of workers. A target nobody asked for in three intervals is
// dropped, so deleted pods and policies clean up after themselves.
type Poller struct {
	workers chan struct{}
	started chan struct{}
	ctx     context.Context

	mu      sync.Mutex
	targets map[string]*polled
}

type polled struct {
	Target
	wanted time.Time
	result *Result
}

// NewPoller returns a poller with the given number of concurrent fetches.
func NewPoller(workers int) *Poller {
	return &Poller{workers: make(chan struct{}, max(workers, 1)), started: make(chan struct{}), targets: map[string]*polled{}}
}

// Start runs the poller until ctx ends; it is a manager Runnable.
func (p *Poller) Start(ctx context.Context) error {
	p.ctx = ctx
	close(p.started)
	<-ctx.Done()
	return nil
}

// Want registers interest in a target and returns its latest result, if
// any. The first call starts polling it at once.
func (p *Poller) Want(t Target) (Result, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pt, ok := p.targets[t.Key]
	if !ok {
		pt = &polled{Target: t}
		p.targets[t.Key] = pt
		go p.poll(pt)
	}
	pt.Target, pt.wanted = t, time.Now()
	if pt.result == nil {
		return Result{}, false
	}
	return *pt.result, true
}

func (p *Poller) poll(pt *polled) {
	<-p.started
	ctx := p.ctx
	for {
		select {
		case p.workers <- struct{}{}:
		case <-ctx.Done():
			return
		}
		p.mu.Lock()
		t := pt.Target
		p.mu.Unlock()
		start := time.Now()
		v, err := t.Fetch(ctx)
		<-p.workers
		fetchSeconds.WithLabelValues(t.Source).Observe(time.Since(start).Seconds())
		if err != nil {
			fetchErrors.WithLabelValues(t.Source).Inc()
		}
		if p.store(pt, Result{Value: v, Err: err, At: time.Now()}) && t.OnChange != nil {
			t.OnChange()
		}
		select {
		case <-time.After(jitter(t.Interval)):
		case <-ctx.Done():
			return
		}
		if p.dropIfUnwanted(pt) {
			return
		}
	}
}

// store records a result and reports whether it differs from the last one.
func (p *Poller) store(pt *polled, r Result) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	prev := pt.result
	pt.result = &r
	return prev == nil || errText(prev.Err) != errText(r.Err) || !reflect.DeepEqual(prev.Value, r.Value)
}

func (p *Poller) dropIfUnwanted(pt *polled) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if time.Since(pt.wanted) < 3*pt.Interval {
		return false
	}
	delete(p.targets, pt.Key)
	return true
}

// Len is the number of targets being polled.
func (p *Poller) Len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.targets)
}

// jitter spreads fetches over ±10% of the interval so that pods created
// together are not polled in lockstep.
func jitter(d time.Duration) time.Duration {
	return d - d/10 + time.Duration(rand.Int64N(int64(d/5)+1))
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
