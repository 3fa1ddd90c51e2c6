package sources

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"
)

// tarpit is a loopback server that holds every request until the client
// gives up, and counts the requests it holds.
type tarpit struct {
	*httptest.Server
	holding, peak, total atomic.Int32
}

func newTarpit(t *testing.T) *tarpit {
	t.Helper()
	tp := &tarpit{}
	stop := make(chan struct{})
	tp.Server = httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		tp.total.Add(1)
		n := tp.holding.Add(1)
		defer tp.holding.Add(-1)
		for old := tp.peak.Load(); n > old && !tp.peak.CompareAndSwap(old, n); old = tp.peak.Load() {
		}
		select {
		case <-r.Context().Done():
		case <-stop:
		}
	}))
	t.Cleanup(func() { close(stop); tp.Close() })
	return tp
}

func startPoller(t *testing.T, workers int, bytesInFlight int64) *Poller {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	p := NewPoller(workers, bytesInFlight)
	go func() { _ = p.Start(ctx) }()
	// Cancelling first ends the held requests, so the servers can close.
	t.Cleanup(cancel)
	return p
}

// wantInNamespaces asks for perNamespace http targets of url in each of n
// namespaces named prefix-0.., and returns them.
func wantInNamespaces(p *Poller, c *Client, url string, timeout time.Duration, prefix string, n, perNamespace int) []Target {
	targets := make([]Target, 0, n*perNamespace)
	for ns := range n {
		for i := range perNamespace {
			target := httpTarget(c, fmt.Sprintf("%s-%d-%d", prefix, ns, i), fmt.Sprintf("%s-%d", prefix, ns), url, timeout)
			targets = append(targets, target)
			p.Want(target)
		}
	}
	return targets
}

func httpTarget(c *Client, key, namespace, url string, timeout time.Duration) Target {
	req := Request{URL: url, Timeout: timeout}
	return Target{Key: key, Source: "http", Namespace: namespace, MaxBytes: MaxBodyBytes, Interval: time.Minute,
		Fetch: func(ctx context.Context) (any, error) { return c.FetchHTTP(ctx, req) }}
}

// 64 targets whose endpoints are tarpits in one namespace hold at most that
// namespace's share of the workers: another namespace's targets still get
// their first fetch at once.
func TestPollerSharesWorkersFairlyAcrossNamespaces(t *testing.T) {
	const workers = 16
	p := startPoller(t, workers, BytesInFlight)
	c := NewClient(Rules{})
	pit := newTarpit(t)
	for i := range 64 {
		p.Want(httpTarget(c, fmt.Sprintf("tarpit-%d", i), "attacker", pit.URL, time.Minute))
	}
	var share int32 = max(4, workers/8)
	waitFor(t, func() bool { return pit.holding.Load() == share })

	victim := serve(t, func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })
	start := time.Now()
	for i := range 8 {
		target := httpTarget(c, fmt.Sprintf("victim-%d", i), "victim", victim, time.Second)
		waitWithin(t, 2*time.Second, func() bool { r, ok := p.Want(target); return ok && r.Err == nil })
	}
	t.Logf("the victim's 8 first fetches took %s beside %d held tarpit requests", time.Since(start), pit.holding.Load())
	if pit.peak.Load() > share {
		t.Fatalf("the attacker's namespace held %d workers at once, want at most %d", pit.peak.Load(), share)
	}
}

// However many workers there are, the fetches that read an answer at once
// hold at most the bytes-in-flight budget, counted at each fetch's cap, and
// one namespace at most a quarter of it: an endpoint that sends its body
// slowly holds its bytes until it times out.
func TestPollerBoundsBytesInFlight(t *testing.T) {
	cases := []struct {
		name       string
		namespaces int
		want       int32
	}{
		{name: "the whole budget", namespaces: 12, want: 4},
		{name: "one namespace's quarter", namespaces: 1, want: 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := startPoller(t, 64, 4*(MaxBodyBytes+HeaderBytes))
			var reading, peak, done atomic.Int32
			for i := range 12 {
				p.Want(Target{Key: fmt.Sprintf("t-%d", i), Source: "http", Namespace: fmt.Sprintf("ns-%d", i%tc.namespaces),
					MaxBytes: MaxBodyBytes, Interval: time.Minute, Fetch: func(ctx context.Context) (any, error) {
						defer done.Add(1)
						if err := Reserve(ctx); err != nil { // the answer's headers are in
							return nil, err
						}
						n := reading.Add(1)
						defer reading.Add(-1)
						for old := peak.Load(); n > old && !peak.CompareAndSwap(old, n); old = peak.Load() {
						}
						time.Sleep(100 * time.Millisecond) // its body comes slowly
						return "ok", nil
					}})
			}
			waitWithin(t, 20*time.Second, func() bool { return done.Load() >= 12 })
			if peak.Load() != tc.want {
				t.Fatalf("%d fetches of %d bytes read at once, want %d", peak.Load(), MaxBodyBytes, tc.want)
			}
		})
	}
}

// ForgetPod drops a finished pod's targets at once and ends their fetches:
// its IP is not dialled again.
func TestPollerForgetPod(t *testing.T) {
	p := startPoller(t, 4, BytesInFlight)
	c := NewClient(Rules{})
	pit := newTarpit(t)
	gone, kept := types.UID("finished"), types.UID("running")
	t1 := httpTarget(c, "finished/http", "ns", pit.URL, time.Minute)
	t1.Pod, t1.Interval = gone, 20*time.Millisecond
	t2 := httpTarget(c, "running/http", "ns", pit.URL, time.Minute)
	t2.Pod = kept
	p.Want(t1)
	p.Want(t2)
	waitFor(t, func() bool { return pit.holding.Load() == 2 })
	p.ForgetPod(gone)
	waitFor(t, func() bool { return pit.holding.Load() == 1 && p.Len() == 1 })
	// Nothing can be polled for: the forgotten target must stay unfetched
	// over many of its intervals.
	time.Sleep(10 * t1.Interval)
	if pit.total.Load() != 2 {
		t.Fatalf("%d requests, want 2: the forgotten pod was fetched again", pit.total.Load())
	}
}

// waitWithin polls cond until it holds or d has passed.
func waitWithin(t *testing.T, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %s", d)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A policy edited again and again asks for a new target of each of its
// pods at every generation (the request is the key); the target it asked
// for before is dropped, and its fetch ended, at once, unless another
// policy still asks for it: edits must not pile up polls for hours.
func TestPollerReplacesAnOwnersTargetAtOnce(t *testing.T) {
	p := startPoller(t, 16, BytesInFlight)
	c := NewClient(Rules{})
	pit := newTarpit(t)
	owned := func(owner, key string) Target {
		target := httpTarget(c, key, "tenant", pit.URL, time.Minute)
		target.Owner = owner
		return target
	}
	for gen := range 20 {
		p.Want(owned("policy-a/pod-1/http", fmt.Sprintf("generation-%d", gen)))
		waitFor(t, func() bool { return pit.total.Load() == int32(gen+1) })
	}
	waitFor(t, func() bool { return pit.holding.Load() == 1 })
	if n := p.Len(); n != 1 {
		t.Fatalf("%d targets polled after 20 generations, want 1", n)
	}

	p.Want(owned("policy-b/pod-1/http", "generation-19")) // the same request from another policy
	p.Want(owned("policy-a/pod-1/http", "generation-20"))
	if n := p.Len(); n != 2 {
		t.Fatalf("%d targets polled, want 2: policy b still asks for the one policy a left", n)
	}
}

// A Prometheus round whose answer has begun but never ends holds its bytes
// until its timeout, from the namespace's share for shared servers: the
// namespace's pods' own probes do not queue behind it.
func TestPollerKeepsPodProbesOutOfASharedServersWay(t *testing.T) {
	p := startPoller(t, 16, BytesInFlight)
	c := NewClient(Rules{})
	// The round's answer has begun, so it holds its bytes: its body never
	// ends.
	answering, hang := make(chan struct{}), make(chan struct{})
	slow := serve(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		close(answering)
		select {
		case <-hang:
		case <-r.Context().Done():
		}
	})
	t.Cleanup(func() { close(hang) }) // before the server closes, which waits for its handler
	round := httpTarget(c, "prometheus", "tenant", slow, time.Minute)
	round.Shared, round.MaxBytes = "prometheus.monitoring:9090", MaxPrometheusBytes
	p.Want(round)
	<-answering

	pod := serve(t, func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })
	probe := httpTarget(c, "probe", "tenant", pod, time.Second)
	waitWithin(t, 2*time.Second, func() bool { r, ok := p.Want(probe); return ok && r.Err == nil })
}

// When most of a namespace's pods that answered stop answering at once,
// the likelier fault is between readygate and them (its node, an egress
// policy): their failed probes are then no verdict, so an operator-side
// fault takes no pod out of traffic. A few pods failing among many
// answering ones are still each a verdict; pods count once however many
// targets read them, and a pod that never answered does not count.
func TestPollerHoldsWhenMostOfANamespaceStopsAnswering(t *testing.T) {
	p := startPoller(t, 16, BytesInFlight)
	c := NewClient(Rules{})
	type pod struct {
		srv     *httptest.Server
		targets []Target
	}
	// Every target is asked for at each look, as reconciles would: one not
	// asked for in three intervals is dropped.
	var all []Target
	want := func(target Target) (Result, bool) {
		for _, other := range all {
			p.Want(other)
		}
		return p.Want(target)
	}
	newPod := func(ns string, i, targets int) *pod {
		pd := &pod{srv: httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) }))}
		t.Cleanup(pd.srv.Close)
		for j := range targets {
			target := httpTarget(c, fmt.Sprintf("%s-%d-%d", ns, i, j), ns, pd.srv.URL, time.Second)
			target.Pod, target.Interval = types.UID(fmt.Sprintf("%s-%d", ns, i)), 50*time.Millisecond
			all = append(all, target)
			pd.targets = append(pd.targets, target)
			waitFor(t, func() bool { r, ok := want(target); return ok && r.Err == nil })
		}
		return pd
	}
	stop := func(pd *pod) {
		pd.srv.Close()
		for _, target := range pd.targets {
			waitFor(t, func() bool { r, _ := want(target); return r.Err != nil })
		}
	}
	verdict := func(pd *pod) error { r, _ := want(pd.targets[0]); return r.Err }

	// One pod read by four targets stops answering: one pod of one.
	alone := newPod("alone", 0, 4)
	stop(alone)
	if err := verdict(alone); err == nil || errors.Is(err, ErrNoVerdict) {
		t.Fatalf("one pod read by four targets: err %v, want a verdict on the pod", err)
	}

	// Two pods of six stop answering, beside four that never did.
	pods := make([]*pod, 0, 6)
	for i := range 6 {
		pods = append(pods, newPod("rollout", i, 1))
	}
	for i := range 4 {
		never := httpTarget(c, fmt.Sprintf("never-%d", i), "rollout", "http://127.0.0.1:1/", time.Second)
		never.Pod, never.Interval = types.UID(fmt.Sprintf("never-%d", i)), 50*time.Millisecond
		all = append(all, never)
		waitFor(t, func() bool { r, ok := want(never); return ok && Unanswered(r.Err) })
	}
	stop(pods[0])
	stop(pods[1])
	if err := verdict(pods[0]); err == nil || errors.Is(err, ErrNoVerdict) {
		t.Fatalf("two pods of six, beside four never answering: err %v, want a verdict on the pod", err)
	}

	// Two more: four of the six that answered now answer no fetch.
	stop(pods[2])
	stop(pods[3])
	if err := verdict(pods[0]); !errors.Is(err, ErrNoVerdict) || !strings.Contains(err.Error(), "4 of 6") {
		t.Fatalf("four pods of six stopped answering: err %v, want no verdict that says 4 of 6", err)
	}
}

// TestUnanswered tells an endpoint that did not answer from one that
// answered badly.
func TestUnanswered(t *testing.T) {
	c := NewClient(Rules{})
	pit := newTarpit(t)
	big := serve(t, func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(make([]byte, MaxBodyBytes+1)) })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := "http://" + ln.Addr().String() + "/"
	_ = ln.Close()
	for _, tc := range []struct {
		name, url  string
		unanswered bool
	}{
		{"connection refused", refused, true},
		{"timed out", pit.URL, true},
		{"a body over the cap", big, false},
	} {
		_, err := c.FetchHTTP(context.Background(), Request{URL: tc.url, Timeout: 200 * time.Millisecond})
		if err == nil || Unanswered(err) != tc.unanswered {
			t.Errorf("%s: err %v, Unanswered %v, want %v", tc.name, err, Unanswered(err), tc.unanswered)
		}
	}
	if Unanswered(noVerdict{context.DeadlineExceeded}) {
		t.Error("a failure readygate holds no verdict on counts as unanswered")
	}
}

// Endpoints that never answer, however many namespaces hold them (a
// Prometheus that hangs, tenants' tarpits), hold none of the bytes in
// flight: a fetch takes its bytes once it has an answer to read. Another
// namespace's probes go on at once.
func TestEndpointsThatNeverAnswerHoldNoBytes(t *testing.T) {
	p := startPoller(t, 256, BytesInFlight)
	c := NewClient(Rules{})
	pit := newTarpit(t)
	for ns := range 12 {
		for i := range 2 {
			round := httpTarget(c, fmt.Sprintf("round-%d-%d", ns, i), fmt.Sprintf("tenant-%d", ns), pit.URL, time.Minute)
			round.Shared, round.MaxBytes = fmt.Sprintf("prometheus-%d:9090", i), MaxPrometheusBytes
			p.Want(round)
		}
		for i := range 8 {
			p.Want(httpTarget(c, fmt.Sprintf("tarpit-%d-%d", ns, i), fmt.Sprintf("tenant-%d", ns), pit.URL, time.Minute))
		}
	}
	waitFor(t, func() bool { return pit.holding.Load() == 12*10 })

	pod := serve(t, func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })
	for i := range 8 {
		probe := httpTarget(c, fmt.Sprintf("probe-%d", i), "victim", pod, time.Second)
		waitWithin(t, 2*time.Second, func() bool { r, ok := p.Want(probe); return ok && r.Err == nil })
	}
	sameNamespace := httpTarget(c, "probe-beside-the-rounds", "tenant-0", pod, time.Second)
	waitWithin(t, 2*time.Second, func() bool { r, ok := p.Want(sameNamespace); return ok && r.Err == nil })
}

// A fetch reserves its bytes once its answer's headers are in, before it
// reads the body: with room for one fetch in the namespace, a second one
// whose answer is all there waits for the first one's body to end.
func TestFetchesReserveTheirBytesOnceAnswered(t *testing.T) {
	p := startPoller(t, 16, 4*(MaxBodyBytes+HeaderBytes)) // a namespace's share: one fetch
	c := NewClient(Rules{})
	headersSent, finish := make(chan struct{}), make(chan struct{})
	slow := serve(t, func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		close(headersSent)
		<-finish
		_, _ = w.Write([]byte("slow"))
	})
	release := sync.OnceFunc(func() { close(finish) })
	t.Cleanup(release) // before the server closes, which waits for its handler
	quick := serve(t, func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("quick")) })
	first := httpTarget(c, "slow", "tenant", slow, 10*time.Second)
	p.Want(first)
	<-headersSent
	// Sent is not yet read: the first fetch reserves its bytes once its
	// client has the headers.
	waitFor(t, func() bool { return p.room.held() > 0 })
	second := httpTarget(c, "quick", "tenant", quick, 10*time.Second)
	p.Want(second)
	deadline := time.Now().Add(300 * time.Millisecond)
	for time.Now().Before(deadline) {
		if _, ok := p.Want(second); ok {
			t.Fatal("the second fetch read its answer while the first held the namespace's bytes")
		}
		time.Sleep(10 * time.Millisecond)
	}
	release()
	waitFor(t, func() bool { r, ok := p.Want(second); return ok && r.Err == nil })
}

// A Prometheus round holds no bytes between its queries: rounds whose
// second query hangs, in as many namespaces as fill the budget, leave
// another namespace's probes their room.
func TestARoundHoldsNoBytesBetweenItsQueries(t *testing.T) {
	p := startPoller(t, 64, 4*(MaxBodyBytes+HeaderBytes)) // the budget: four namespaces' shares
	hang := make(chan struct{})
	var hanging atomic.Int32
	prom := serve(t, func(w http.ResponseWriter, r *http.Request) {
		if r.FormValue("query") == "hangs" {
			hanging.Add(1)
			select {
			case <-hang:
			case <-r.Context().Done():
			}
			return
		}
		_, _ = w.Write([]byte(`{"status":"success","data":{"resultType":"vector","result":[]}}`))
	})
	t.Cleanup(func() { close(hang) }) // before the server closes, which waits for its handlers
	c := allowing(t, prom)
	for ns := range 4 {
		p.Want(Target{Key: fmt.Sprintf("round-%d", ns), Source: "prometheus", Namespace: fmt.Sprintf("tenant-%d", ns), Shared: "prometheus",
			MaxBytes: MaxPrometheusBytes, Interval: time.Minute, Fetch: func(ctx context.Context) (any, error) {
				return c.QueryPrometheus(ctx, PromServer{Address: prom, Timeout: time.Minute}, map[string]string{"a": "answers", "b": "hangs"})
			}})
	}
	pod := serve(t, func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })
	probe := httpTarget(NewClient(Rules{}), "probe", "victim", pod, 500*time.Millisecond)
	waitFor(t, func() bool { return hanging.Load() == 4 }) // every round's first query is answered, its second hangs
	waitWithin(t, 2*time.Second, func() bool { r, ok := p.Want(probe); return ok && r.Err == nil })
}

// trickler is a loopback server that answers at once and then sends its
// body slowly, never ending it, as a tenant who would hold readygate's
// bytes in flight does. It counts the answers it has begun, and those whose
// body the client reads.
type trickler struct {
	*httptest.Server
	answering, reading atomic.Int32
}

// smallSendBuffer keeps each connection's send buffer small, so that a
// handler's large write returns only once the client has read most of it.
type smallSendBuffer struct{ net.Listener }

func (l smallSendBuffer) Accept() (net.Conn, error) {
	conn, err := l.Listener.Accept()
	if tcp, ok := conn.(*net.TCPConn); ok {
		_ = tcp.SetWriteBuffer(4 << 10)
	}
	return conn, err
}

func newTrickler(t *testing.T) *trickler {
	t.Helper()
	tr := &trickler{}
	stop := make(chan struct{})
	tr.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		tr.answering.Add(1)
		defer tr.answering.Add(-1)
		// Half the body's cap at once: more than the connection's buffers
		// hold before the client reads (the receive buffer starts at
		// 128 KiB on Linux and grows only as it is read), so the write
		// returns once the client reads the body, having taken its bytes.
		if _, err := w.Write(make([]byte, MaxBodyBytes/2)); err != nil {
			return
		}
		tr.reading.Add(1)
		defer tr.reading.Add(-1)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-tick.C:
				_, _ = w.Write([]byte{' '})
				w.(http.Flusher).Flush()
			case <-r.Context().Done():
				return
			case <-stop:
				return
			}
		}
	}))
	tr.Listener = smallSendBuffer{tr.Listener}
	tr.Start()
	t.Cleanup(func() { close(stop); tr.Close() })
	return tr
}

// Endpoints that answer at once and then send their body slowly hold their
// bytes until they time out, 30 s at most. Tenants whose namespaces fill
// the budget so, with more fetches waiting for room, leave a namespace
// within its fair share its room all the same: its probe, with the default
// timeout, gets its answer, not a fetch that timed out waiting for room (no
// verdict: a new pod would stay unready until the slow bodies end).
func TestSlowBodiesInOtherNamespacesLeaveAProbeItsRoom(t *testing.T) {
	const answer = MaxBodyBytes + HeaderBytes // what each fetch reserves
	for _, tc := range []struct {
		name       string
		budget     int64
		namespaces int
	}{
		{"a namespace's share is one answer", 4 * answer, 4},
		{"the default budget", BytesInFlight, 4},
		{"more namespaces than the budget has shares", 4 * answer, 6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := startPoller(t, 64, tc.budget)
			c := NewClient(Rules{})
			slow := newTrickler(t)
			// Each namespace reads as many slow bodies as its share holds,
			// and has one more fetch waiting for room.
			perNamespace := int(p.laneBudget()/answer) + 1
			slowTargets := wantInNamespaces(p, c, slow.URL, 30*time.Second, "tenant", tc.namespaces, perNamespace)
			// The budget is full, and other fetches have their answer's
			// headers and wait for room. (Where more namespaces wait than
			// the budget has shares, they take turns: the count moves.)
			waitFor(t, func() bool {
				reading := slow.reading.Load()
				return reading == int32(tc.budget/answer) && slow.answering.Load() > reading
			})

			pod := serve(t, func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })
			const timeout = time.Second // the default
			probe := httpTarget(c, "probe", "victim", pod, timeout)
			start := time.Now()
			waitWithin(t, 2*timeout, func() bool { _, ok := p.Want(probe); return ok })
			if r, _ := p.Want(probe); r.Err != nil {
				t.Fatalf("the probe's first fetch, beside %d slow bodies in %d namespaces, after %s: %v; want its answer",
					slow.reading.Load(), tc.namespaces, time.Since(start).Round(time.Millisecond), r.Err)
			}
			t.Logf("the probe's first fetch took %s", time.Since(start))

			// The slow bodies that gave up their bytes are no verdict on
			// their pods.
			t.Logf("a slow body's fetch: %v", endedWithoutVerdict(t, p, slowTargets))
		})
	}
}

// Tarpits in as many namespaces as fill every fetch worker leave another
// namespace's probe a worker all the same: the tarpits' fetches that have
// waited longest for an answer give theirs up, as no verdict on their
// pods, instead of the probe waiting until they time out (a new pod's gate
// held meanwhile).
func TestTarpitsInManyNamespacesLeaveAProbeAWorker(t *testing.T) {
	for _, tc := range []struct {
		name                string
		workers, namespaces int
	}{
		{"as many namespaces as fill the workers", 16, 4},
		{"more namespaces than fit", 16, 8},
		{"the default workers", 256, 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := startPoller(t, tc.workers, BytesInFlight)
			c := NewClient(Rules{})
			pit := newTarpit(t)
			perNamespace := max(4, tc.workers/8) + 1 // one more than a namespace runs at once
			tarpits := wantInNamespaces(p, c, pit.URL, 30*time.Second, "tenant", tc.namespaces, perNamespace)
			waitFor(t, func() bool { return pit.holding.Load() == int32(tc.workers) })

			pod := serve(t, func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })
			probe := httpTarget(c, "probe", "victim", pod, time.Second)
			start := time.Now()
			waitWithin(t, slowAnswer+2*time.Second, func() bool { r, ok := p.Want(probe); return ok && r.Err == nil })
			t.Logf("the probe's first fetch took %s beside %d held tarpit requests", time.Since(start).Round(time.Millisecond), pit.holding.Load())
			if peak := pit.peak.Load(); peak > int32(tc.workers) {
				t.Fatalf("%d fetches ran at once, want at most the %d workers", peak, tc.workers)
			}

			ended := endedWithoutVerdict(t, p, tarpits)
			if !strings.Contains(ended.Error(), "fetch workers") {
				t.Fatalf("a tarpit's fetch ended with %q, which does not say it gave up its worker", ended)
			}
			t.Logf("a tarpit's fetch: %v", ended)
		})
	}
}

// endedWithoutVerdict waits until one of the targets, whose endpoints never
// finish answering, has a result, and returns its error: every result
// there is must be no verdict on the pod.
func endedWithoutVerdict(t *testing.T, p *Poller, targets []Target) error {
	t.Helper()
	var ended error
	waitFor(t, func() bool {
		for _, target := range targets {
			r, ok := p.Want(target)
			if ok && !errors.Is(r.Err, ErrNoVerdict) {
				t.Fatalf("%s: result %v, %v; want no verdict, or still under way", target.Key, r.Value, r.Err)
			}
			if ok {
				ended = r.Err
			}
		}
		return ended != nil
	})
	return ended
}
