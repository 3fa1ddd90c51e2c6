package sources

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/semaphore"
	"k8s.io/apimachinery/pkg/types"
	utilcache "k8s.io/apimachinery/pkg/util/cache"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

var (
	// A failed fetch is counted where it fails a policy, in
	// readygate_errors_total{kind="source"}, not here: one scheme for errors.
	fetchSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "readygate_source_fetch_duration_seconds",
		Help:    "Time to fetch a source, by source, whether the fetch succeeds or fails.",
		Buckets: prometheus.ExponentialBuckets(0.0005, 4, 9),
	}, []string{"source"})
	fetchPanics = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "readygate_source_fetch_panics_total",
		Help: "Fetches that panicked, by source: a bug in readygate, which failed that target alone.",
	}, []string{"source"})
)

func init() {
	metrics.Registry.MustRegister(fetchSeconds, fetchPanics)
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
	// Key identifies the target: the same key from several policies is
	// fetched once, at the shortest interval they ask for.
	Key string
	// Owner, when set, is who asks for the target (one policy's source for
	// one pod): when it asks for another key, the target it asked for before
	// is dropped at once, unless another owner asks for it too.
	Owner string
	// Source names the source in metrics, e.g. http.
	Source string
	// Namespace is the tenant the fetch works for: each namespace gets a
	// fair share of the workers.
	Namespace string
	// Pod is the pod whose endpoint is fetched, if any, so that ForgetPod
	// can drop it at once.
	Pod types.UID
	// Shared names a server that all namespaces' targets query, such as a
	// Prometheus: a namespace's fetches of it run at most SharedPerNamespace
	// at once, so that one tenant's policies cannot take all the server's
	// own concurrency. Empty for a pod's own endpoint.
	Shared string
	// MaxBytes is the most the fetch's response holds in memory (its body
	// cap); it is reserved from the bytes-in-flight budget, and from its
	// namespace's share, while the fetch runs.
	MaxBytes int64
	Interval time.Duration
	Fetch    Fetch
	// OnChange is called when a fetch's result differs from the previous
	// one, and after every failed fetch of a pod's endpoint that is a
	// verdict on the pod.
	OnChange func()
}

// BytesInFlight is the default budget of response bytes held by all fetches
// at once, whatever the number of workers: with the per-fetch caps, what
// the default memory limit (256Mi) carries beside the caches.
const BytesInFlight = 32 << 20

// Poller fetches every wanted target once per interval, with jitter, in a
// bounded pool of workers and within a budget of bytes in flight. A
// namespace holds at most a fair share of the workers (design rule 18), so
// one tenant's tarpits slow only that tenant, and the bytes are shared
// fairly between namespaces (see room). A target nobody asked for in
// three intervals is dropped, so deleted pods and policies clean up after
// themselves; a finished pod's targets are dropped at once (ForgetPod).
type Poller struct {
	workers      *room
	perNamespace int
	room         *room
	budget       int64
	started      chan struct{}
	ctx          context.Context

	mu         sync.Mutex
	retained   *retention
	targets    map[string]*polled
	owned      map[string]*polled
	byPod      map[types.UID]map[*polled]struct{}
	namespaces map[string]*lane
	// forgottenPods are the pods dropped in the last forgottenPodFor: a
	// reconcile that read one just before must not poll it again.
	forgottenPods *utilcache.Expiring
}

// A result refused for want of room, or a fetch ended to make room for
// another namespace, is fetched again after overloadedRetry, doubling up to
// overloadedBackoffs times (17 minutes) or the interval: the room may come
// at the next fetch, and the pod's gate waits on it.
const (
	overloadedRetry    = time.Second
	overloadedBackoffs = 10
)

// forgottenPodFor is how long a dropped pod's late reconciles are expected:
// far longer than a reconcile takes.
const forgottenPodFor = time.Minute

type polled struct {
	Target
	lane   *lane
	wanted time.Time
	result *Result
	// overloaded counts the fetches in a row refused for want of room, to
	// retry sooner than the interval, backing off.
	overloaded int
	// forgotten is set when the target is dropped while its fetch may run;
	// cancel ends that fetch.
	forgotten bool
	cancel    context.CancelFunc
	// intervals holds when each interval was last asked for. The target is
	// fetched at the shortest one asked for within three of its periods:
	// policies that read one endpoint share its fetches, and none waits on
	// another's longer interval for its thresholds. wake cuts a sleep short
	// when a shorter interval is asked for.
	intervals map[time.Duration]time.Time
	wake      chan struct{}
	// owners are the Target.Owners that ask for it now.
	owners map[string]struct{}
	// answeredOnce is set once a fetch got an answer: only then does its
	// endpoint failing to answer say it stopped (see excuse).
	answeredOnce bool
}

// podAnswers counts a pod's targets that have answered once, by their
// latest fetch.
type podAnswers struct{ answered, unanswered int }

// intervalsAskedFor returns the shortest and longest intervals asked for
// within three of their periods, forgetting older ones; the caller holds
// p.mu.
func (pt *polled) intervalsAskedFor(now time.Time) (shortest, longest time.Duration) {
	for interval, at := range pt.intervals {
		if now.Sub(at) >= 3*interval {
			delete(pt.intervals, interval)
			continue
		}
		if shortest == 0 || interval < shortest {
			shortest = interval
		}
		longest = max(longest, interval)
	}
	if shortest == 0 {
		return pt.Interval, pt.Interval
	}
	return shortest, longest
}

// SharedPerNamespace is how many fetches of one shared server (Target.Shared)
// one namespace runs at once: a policy's queries run one after another, so
// two policies' rounds at once, of the 20 queries Prometheus runs at once
// by default.
const SharedPerNamespace = 2

// lane bounds one namespace's fetches, and the bytes they hold, at once.
// Fetches of shared servers hold bytes of their own, so that a Prometheus
// round that hangs until its timeout holds up none of the pods' probes.
type lane struct {
	slots       chan struct{}
	bytes       *semaphore.Weighted
	sharedBytes *semaphore.Weighted
	// inBytes and inWorkers are its stakes in the poller's rooms.
	inBytes, inWorkers stake
	pollers            int
	// answers count, per pod, its targets that have answered once by
	// whether their latest fetch was answered (see Unanswered); counted is
	// how many pods it holds, and silent how many of them answer none now.
	answers         map[types.UID]*podAnswers
	counted, silent int
	// shared bounds the namespace's fetches of each shared server; the
	// poller's lock guards the map.
	shared map[string]chan struct{}
}

// NewPoller returns a poller with the given number of concurrent fetches,
// at most max(4, workers/8) of them for one namespace, and a budget of
// bytes in flight, at most a quarter of it for one namespace.
func NewPoller(workers int, bytesInFlight int64) *Poller {
	workers = max(workers, 1)
	return &Poller{
		workers:       newRoom(int64(workers), slowAnswer, errMadeRoomInWorkers),
		perNamespace:  min(workers, max(4, workers/8)),
		room:          newRoom(max(bytesInFlight, 1), slowBody, errMadeRoomInBytes),
		budget:        max(bytesInFlight, 1),
		started:       make(chan struct{}),
		targets:       map[string]*polled{},
		owned:         map[string]*polled{},
		byPod:         map[types.UID]map[*polled]struct{}{},
		namespaces:    map[string]*lane{},
		retained:      newRetention(RetainedResults),
		forgottenPods: utilcache.NewExpiring(),
	}
}

// Start runs the poller until ctx ends; it is a manager Runnable.
func (p *Poller) Start(ctx context.Context) error {
	p.ctx = ctx
	close(p.started)
	<-ctx.Done()
	return nil
}

// Want registers interest in a target and returns its latest result, if
// any. The first call starts polling it at once, unless its pod was
// forgotten in the last minute.
func (p *Poller) Want(t Target) (Result, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pt, ok := p.targets[t.Key]
	if !ok {
		if _, gone := p.forgottenPods.Get(t.Pod); gone {
			return Result{}, false
		}
		pt = &polled{Target: t, lane: p.join(t.Namespace), intervals: map[time.Duration]time.Time{}, wake: make(chan struct{}, 1)}
		p.targets[t.Key] = pt
		if t.Pod != "" {
			if p.byPod[t.Pod] == nil {
				p.byPod[t.Pod] = map[*polled]struct{}{}
			}
			p.byPod[t.Pod][pt] = struct{}{}
		}
		go p.poll(pt)
	}
	now := time.Now()
	if shortest, _ := pt.intervalsAskedFor(now); t.Interval < shortest {
		select { // the poll sleeps for a longer interval: fetch now
		case pt.wake <- struct{}{}:
		default:
		}
	}
	if t.Owner != "" {
		p.own(t.Owner, pt)
	}
	pt.Target, pt.wanted = t, now
	pt.intervals[t.Interval] = now
	if pt.result == nil {
		return Result{}, false
	}
	r := *pt.result
	if pt.Pod != "" && Unanswered(r.Err) {
		r.Err = pt.lane.excuse(r.Err)
	}
	return r, true
}

// reservation is a fetch's claim on a room: on a fetch worker, or on the
// bytes in flight, its namespace's share (lane) first. The fetch takes its
// bytes once the endpoint answers (Reserve): one that waits for an answer
// holds no memory, so endpoints that never answer (a Prometheus that
// hangs, a tarpit), however many namespaces hold them, hold up no one's
// bytes. A Prometheus round holds bytes apart from its namespace's pod
// probes.
type reservation struct {
	weight int64
	lane   *semaphore.Weighted
	ns     *stake
	room   *room
	// cancel ends the fetch, when the room needs what it holds for another
	// namespace.
	cancel context.CancelCauseFunc
	// taken is the fetch's own; the rest the room's, under its lock:
	// ready is closed once the room grants the claim, since is when, and
	// ended is set once the room ends the fetch to take it back.
	taken          bool
	ready          chan struct{}
	granted, ended bool
	since          time.Time
}

type reservationKey struct{}

// Reserve takes the bytes of the poller's fetch that ctx runs, once: the
// caller has the response's headers and is about to read its body. Its
// namespace's share serves its fetches in the order they asked; the budget
// serves first the namespaces that hold least (see room). Outside a
// poller's fetch it does nothing.
func Reserve(ctx context.Context) error {
	r, _ := ctx.Value(reservationKey{}).(*reservation)
	if r == nil || r.taken {
		return nil
	}
	err := r.lane.Acquire(ctx, r.weight)
	if err == nil {
		if err = r.room.take(ctx, r); err != nil {
			r.lane.Release(r.weight)
		}
	}
	if err != nil {
		return noVerdict{fmt.Errorf("waiting for room in readygate's bytes in flight: %w", err)}
	}
	r.taken = true
	return nil
}

// Release gives back the bytes Reserve took for the fetch ctx runs, if
// any: a fetch of several answers (a Prometheus round's queries) holds no
// bytes between them, so a query that hangs holds none.
func Release(ctx context.Context) {
	if r, _ := ctx.Value(reservationKey{}).(*reservation); r != nil {
		r.release()
	}
}

func (r *reservation) release() {
	if r.taken {
		r.room.release(r)
		r.lane.Release(r.weight)
		r.taken = false
	}
}

// unansweredQuorum is how many of a namespace's pods must have answered
// once before most of them not answering reads as readygate's fault.
const unansweredQuorum = 4

// excuse makes an endpoint's failure to answer no verdict on its pod when
// most of the namespace's pods that answered before answer no fetch now:
// the likelier fault is then between readygate and the pods (its node, its
// network, an egress policy), and an operator-side fault must take no pod
// out of traffic. Pods count once however many targets read them; a pod
// that never answered (not listening yet, a policy's wrong port) and a pod
// being deleted (its targets are dropped) do not count. A namespace's own
// pods are all that decide it, so no tenant can excuse another's. The
// caller holds p.mu.
func (l *lane) excuse(err error) error {
	if l.counted < unansweredQuorum || 2*l.silent <= l.counted {
		return err
	}
	return noVerdict{fmt.Errorf("%w; held: %d of %d pods of the namespace that answered before answer no fetch at once, "+
		"which points at readygate's network rather than the pods", err, l.silent, l.counted)}
}

// tally counts a pod target's latest result in its lane, if the target has
// answered once; delta is 1 once the result is stored, -1 before it goes.
// The caller holds p.mu.
func (p *Poller) tally(pt *polled, delta int) {
	if pt.Pod == "" || pt.result == nil || !pt.answeredOnce {
		return
	}
	l := pt.lane
	if l.answers == nil {
		l.answers = map[types.UID]*podAnswers{}
	}
	a := l.answers[pt.Pod]
	if a == nil {
		a = &podAnswers{}
		l.answers[pt.Pod] = a
	}
	l.count(a, -1)
	if Unanswered(pt.result.Err) {
		a.unanswered += delta
	} else {
		a.answered += delta
	}
	l.count(a, 1)
	if *a == (podAnswers{}) {
		delete(l.answers, pt.Pod)
	}
}

// count adds a pod's answers to the lane's counts, or with -1 takes them
// away.
func (l *lane) count(a *podAnswers, delta int) {
	if a.answered+a.unanswered == 0 {
		return
	}
	l.counted += delta
	if a.answered == 0 {
		l.silent += delta
	}
}

// ForgetPod drops the pod's targets now and ends their fetches: a finished
// pod's IP goes back to the pool, and whatever answers there next is not
// the pod.
func (p *Poller) ForgetPod(uid types.UID) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.forgottenPods.Set(uid, struct{}{}, forgottenPodFor)
	for pt := range p.byPod[uid] {
		p.drop(pt)
	}
}

// own records that owner asks for pt, and drops the target it asked for
// before, unless another owner still asks for that; the caller holds p.mu.
func (p *Poller) own(owner string, pt *polled) {
	prev := p.owned[owner]
	if prev == pt {
		return
	}
	if prev != nil {
		delete(prev.owners, owner)
		if len(prev.owners) == 0 {
			p.drop(prev)
		}
	}
	p.owned[owner] = pt
	if pt.owners == nil {
		pt.owners = map[string]struct{}{}
	}
	pt.owners[owner] = struct{}{}
}

// drop removes a target and ends its fetch, if one runs; the caller holds
// p.mu.
func (p *Poller) drop(pt *polled) {
	p.remove(pt)
	pt.forgotten = true
	if pt.cancel != nil {
		pt.cancel()
	}
}

// join returns the namespace's lane; the caller holds p.mu.
func (p *Poller) join(namespace string) *lane {
	l := p.namespaces[namespace]
	if l == nil {
		l = &lane{slots: make(chan struct{}, p.perNamespace),
			bytes: semaphore.NewWeighted(p.laneBudget()), sharedBytes: semaphore.NewWeighted(p.laneBudget())}
		p.namespaces[namespace] = l
	}
	l.pollers++
	return l
}

// sharedSlots returns the lane's bound on fetches of a shared server, nil
// for none; the caller holds p.mu.
func (l *lane) sharedSlots(server string) chan struct{} {
	if server == "" {
		return nil
	}
	if l.shared == nil {
		l.shared = map[string]chan struct{}{}
	}
	slots := l.shared[server]
	if slots == nil {
		slots = make(chan struct{}, SharedPerNamespace)
		l.shared[server] = slots
	}
	return slots
}

// laneBudget is the most of the bytes in flight one namespace holds: a
// quarter, so that one tenant's slow bodies, which hold their bytes until
// they time out, leave the rest to the others even when no one else waits.
// Among several namespaces that want more, the room shares the budget.
func (p *Poller) laneBudget() int64 { return max(p.budget/4, 1) }

// leave drops a finished poll's hold on its lane, and the lane with the
// last one, so namespaces that are gone cost nothing.
func (p *Poller) leave(pt *polled) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if pt.lane.pollers--; pt.lane.pollers == 0 {
		delete(p.namespaces, pt.Namespace)
		p.retained.leave(pt.Namespace)
	}
	if pt.cancel != nil {
		pt.cancel()
	}
}

// remove drops a target from the indexes, and what its result kept; the
// caller holds p.mu.
func (p *Poller) remove(pt *polled) {
	if p.targets[pt.Key] == pt {
		delete(p.targets, pt.Key)
	}
	if pt.result != nil {
		p.tally(pt, -1)
		p.retained.release(pt.Namespace, pt.result)
		pt.result = nil
	}
	for owner := range pt.owners {
		if p.owned[owner] == pt {
			delete(p.owned, owner)
		}
	}
	if byPod := p.byPod[pt.Pod]; byPod != nil {
		delete(byPod, pt)
		if len(byPod) == 0 {
			delete(p.byPod, pt.Pod)
		}
	}
}

func (p *Poller) poll(pt *polled) {
	defer p.leave(pt)
	<-p.started
	p.mu.Lock()
	ctx, cancel := context.WithCancel(p.ctx)
	pt.cancel = cancel
	forgotten := pt.forgotten
	p.mu.Unlock()
	if forgotten {
		return
	}
	for {
		changed, ok := p.fetch(ctx, pt)
		for _, f := range changed {
			f()
		}
		if !ok {
			return
		}
		p.mu.Lock()
		interval, _ := pt.intervalsAskedFor(time.Now())
		if pt.overloaded > 0 {
			interval = min(interval, overloadedRetry<<min(pt.overloaded-1, overloadedBackoffs))
		}
		p.mu.Unlock()
		select {
		case <-time.After(jitter(interval)):
		case <-pt.wake:
		case <-ctx.Done():
			return
		}
		if p.dropIfUnwanted(pt) {
			return
		}
	}
}

// fetch runs one fetch once a slot of the namespace and a worker are free,
// and stores its result. It returns the OnChange
// calls its result asks for, to make once it holds none of those (they may
// wait on the reconcilers' queues), and false when the poll ends.
func (p *Poller) fetch(ctx context.Context, pt *polled) ([]func(), bool) {
	p.mu.Lock()
	t := pt.Target
	shared := pt.lane.sharedSlots(t.Shared)
	p.mu.Unlock()
	// The shared server's room first: waiting for it holds none of the
	// namespace's slots, which its pods' fetches need.
	if shared != nil {
		select {
		case shared <- struct{}{}:
		case <-ctx.Done():
			return nil, false
		}
		defer func() { <-shared }()
	}
	select {
	case pt.lane.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, false
	}
	defer func() { <-pt.lane.slots }()
	fetchCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	worker := &reservation{weight: 1, ns: &pt.lane.inWorkers, room: p.workers, cancel: cancel}
	if p.workers.take(ctx, worker) != nil {
		return nil, false
	}
	defer p.workers.release(worker)
	res := &reservation{weight: min(max(t.MaxBytes, 0)+HeaderBytes, p.laneBudget()), lane: pt.lane.bytes, ns: &pt.lane.inBytes, room: p.room, cancel: cancel}
	if t.Shared != "" {
		res.lane = pt.lane.sharedBytes
	}
	start := time.Now()
	v, err := fetchRecovered(context.WithValue(fetchCtx, reservationKey{}, res), t)
	res.release()
	if ctx.Err() != nil {
		return nil, false // forgotten, or the poller stops: the result is no one's
	}
	if cause := context.Cause(fetchCtx); err != nil && errors.Is(cause, errMadeRoom) {
		// A room ended it: no verdict on the pod, whatever the fetch
		// made of it (a body read names the cause, other steps do not).
		if !errors.Is(err, errMadeRoom) {
			err = fmt.Errorf("%w: %w", err, cause)
		}
		err = noVerdict{err}
	}
	fetchSeconds.WithLabelValues(t.Source).Observe(time.Since(start).Seconds())
	return p.store(pt, Result{Value: v, Err: err, At: time.Now()}), true
}

// store records a result and returns the OnChange of each target whose
// result changed, to call outside the lock: this one's when its result
// differs from the last or failed (see Target.OnChange), and those of the
// results dropped to make room.
func (p *Poller) store(pt *polled, r Result) []func() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if pt.forgotten {
		return nil
	}
	prev := pt.result
	need := retainedBytes(r.Value)
	// Answered is the fetch's own result, before a result too large to
	// keep is refused for room.
	answered := r.Err == nil || !Unanswered(r.Err) && !errors.Is(r.Err, ErrNoVerdict)
	r = p.retained.replace(pt.Namespace, prev, r)
	p.tally(pt, -1)
	pt.result = &r
	pt.answeredOnce = pt.answeredOnce || answered
	p.tally(pt, 1)
	var changed []func()
	switch {
	case errors.Is(r.Err, ErrOverloaded):
		pt.overloaded++
		if p.retained.waiting[pt.Namespace] {
			changed = p.makeRoom(need)
		}
	case errors.Is(r.Err, errMadeRoom):
		// Its bytes went to another namespace: the room for it may come
		// sooner than its interval, as for a result refused for room.
		pt.overloaded++
	default:
		pt.overloaded = 0
	}
	// A failed fetch of a pod's own endpoint is a probe that counts toward
	// failureThreshold, so each one is told, not only the first of a run
	// with the same error. A shared server's failure is no verdict on any
	// pod, and its repeats change nothing.
	probeFailed := pt.Pod != "" && r.Err != nil && !errors.Is(r.Err, ErrNoVerdict)
	if (prev == nil || probeFailed || errText(prev.Err) != errText(r.Err) || !reflect.DeepEqual(prev.Value, r.Value)) && pt.OnChange != nil {
		changed = append(changed, pt.OnChange)
	}
	return changed
}

// makeRoom drops the kept results of namespaces over their fair share until
// need bytes are free, for a namespace within its share that waits: they
// would otherwise keep it waiting until their own next fetches, an hour
// away at most. Their pods get no verdict (Hold) until their results fit
// again; they retry sooner than their interval meanwhile.
func (p *Poller) makeRoom(need int64) []func() {
	// Every refused fetch of a waiting namespace asks; the walk over all
	// targets, under the lock every fetch takes, is for when it can help.
	if !p.retained.anyOverShare() {
		return nil
	}
	var changed []func()
	for _, other := range p.targets {
		if p.retained.budget-p.retained.total >= need {
			break
		}
		if other.result == nil || retainedBytes(other.result.Value) == 0 || !p.retained.overShare(other.Namespace) {
			continue
		}
		p.retained.release(other.Namespace, other.result)
		p.tally(other, -1)
		other.result = &Result{Err: fmt.Errorf("dropped to make room for a namespace within its fair share: %w", ErrOverloaded), At: time.Now()}
		p.tally(other, 1)
		other.overloaded++
		if other.OnChange != nil {
			changed = append(changed, other.OnChange)
		}
	}
	return changed
}

func (p *Poller) dropIfUnwanted(pt *polled) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if pt.forgotten {
		return true
	}
	if _, longest := pt.intervalsAskedFor(time.Now()); time.Since(pt.wanted) < 3*longest {
		return false
	}
	p.remove(pt)
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

// fetchRecovered runs a fetch and turns a panic into the target's error. The
// poller's goroutines are its own, where no controller recovers, and the
// parsers read what tenants serve: a parser's bug must fail one target, not
// stop every gate in the cluster.
func fetchRecovered(ctx context.Context, t Target) (v any, err error) {
	defer func() {
		if r := recover(); r != nil {
			fetchPanics.WithLabelValues(t.Source).Inc()
			v, err = nil, fmt.Errorf("the fetch panicked, a bug in readygate (%v): %w", r, ErrNoVerdict)
		}
	}()
	return t.Fetch(ctx)
}
