package controllers

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"os"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	eventsclient "k8s.io/client-go/kubernetes/typed/events/v1"
	"k8s.io/client-go/tools/reference"
	"k8s.io/utils/lru"
	"sigs.k8s.io/controller-runtime/pkg/log"
)

// Bounds of what the recorder keeps. client-go's events broadcaster keeps
// every Event it wrote for 6 to 12 minutes, 1.35–2.3 KiB each, and starts a
// goroutine per Event: a rollout or a recovery that flipped the gates of
// 50,000 pods at once would have kept 65–115 MiB more, past the default
// memory limit's room. Here the series keys take about 0.5 KiB each and the
// queue holds at most eventQueue Events: about 4 MiB in all.
const (
	// seriesKeys are the Events remembered to count repeats: a pod and
	// policy's flips in each direction are one key each.
	seriesKeys = 4096
	// seriesWindow is how long after its last occurrence a repeat still
	// counts in the Event's series, as in client-go.
	seriesWindow = 6 * time.Minute
	// seriesFlush is how often at most a series' count is written after its
	// second occurrence, and how often the counts not written yet are: the
	// count shown lags by at most twice that.
	seriesFlush = time.Minute
	// eventQueue is how many Events may wait to be written, and
	// eventNamespaceShare how many of them one namespace's objects may
	// take, so that one tenant's flapping pods cannot crowd out the rest.
	eventQueue          = 1024
	eventNamespaceShare = eventQueue / 8
	// eventWriters write Events at once, each from a queue of its own: an
	// Event's series counts go to the writer that creates it, after it.
	// eventAttempts is how often a write is tried when the API server
	// fails it transiently, each attempt within eventWriteTimeout.
	eventWriters      = 4
	eventAttempts     = 3
	eventWriteTimeout = 10 * time.Second
	// eventNameMax leaves room after the object's name for the Event's
	// ".<hex timestamp>", within a name's 253 bytes.
	eventNameMax = 253 - 17
)

// Reasons for readygate_events_dropped_total.
const (
	dropQueueFull      = "queue_full"
	dropNamespaceShare = "namespace_share"
	dropWriteFailed    = "write_failed"
)

// eventRecorder writes readygate's Events (events.k8s.io/v1) as client-go's
// recorder does, with bounded memory: a repeat of an Event (same object,
// related object, type, reason and action) within seriesWindow counts in a
// series on the first one, written on the second occurrence and then at most
// once per seriesFlush, by the next repeat or else by a sweep. The
// references carry no resourceVersion: every flip writes the pod and the
// policy's status, and a repeat would never match.
// Events past the queue's room are dropped and counted: an Event tells, the
// pod's condition is the record.
type eventRecorder struct {
	scheme   *runtime.Scheme
	instance string
	client   eventsclient.EventsGetter
	now      func() time.Time
	queues   [eventWriters]chan eventWrite

	mu     sync.Mutex
	series *lru.Cache // eventKey → *eventSeries
	queued map[string]int
	// unwritten are the series whose count is ahead of the one written.
	unwritten map[eventKey]struct{}
}

// eventKey is what makes an Event a repeat of another.
type eventKey struct {
	eventType, reason, action string
	regarding, related        corev1.ObjectReference
}

// eventSeries is an Event written, and its repeats since.
type eventSeries struct {
	object         types.NamespacedName
	count, written int32
	last, patched  time.Time
}

// eventWrite is an Event to create, or a series count to write on one;
// key is the series it counts in.
type eventWrite struct {
	key    eventKey
	create *eventsv1.Event
	object types.NamespacedName
	series *eventsv1.EventSeries
}

func newEventRecorder(scheme *runtime.Scheme, client eventsclient.EventsGetter) *eventRecorder {
	host, _ := os.Hostname()
	r := &eventRecorder{
		scheme: scheme, instance: eventSource + "-" + host, client: client, now: time.Now,
		queued: map[string]int{}, unwritten: map[eventKey]struct{}{},
	}
	// Called with mu held, as every change of the cache is.
	r.series = lru.NewWithEvictionFunc(seriesKeys, func(key lru.Key, _ any) { delete(r.unwritten, key.(eventKey)) })
	for i := range r.queues {
		r.queues[i] = make(chan eventWrite, eventQueue/eventWriters)
	}
	return r
}

// Eventf records an Event, as events.EventRecorder.
func (r *eventRecorder) Eventf(regarding, related runtime.Object, eventtype, reason, action, note string, args ...any) {
	reg, err := r.reference(regarding)
	if err != nil {
		log.Log.Error(err, "recording an Event about an object the scheme cannot name", "reason", reason)
		return
	}
	key := eventKey{eventType: eventtype, reason: reason, action: action, regarding: *reg}
	rel, err := r.reference(related)
	if err == nil && rel != nil {
		key.related = *rel
	}
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if v, ok := r.series.Get(key); ok && now.Sub(v.(*eventSeries).last) < seriesWindow {
		s := v.(*eventSeries)
		s.count++
		s.last = now
		if s.count == 2 || now.Sub(s.patched) >= seriesFlush {
			r.writeCount(key, s, now)
		}
		if s.written < s.count {
			r.unwritten[key] = struct{}{}
		}
		return
	}
	ev := &eventsv1.Event{
		ObjectMeta:          metav1.ObjectMeta{Name: fmt.Sprintf("%v.%x", reg.Name[:min(len(reg.Name), eventNameMax)], now.UnixNano()), Namespace: eventNamespace(reg)},
		EventTime:           metav1.NewMicroTime(now),
		ReportingController: eventSource, ReportingInstance: r.instance,
		Action: action, Reason: reason, Type: eventtype,
		Regarding: *reg, Related: rel,
		Note: fmt.Sprintf(note, args...),
	}
	object := types.NamespacedName{Namespace: ev.Namespace, Name: ev.Name}
	if r.enqueue(eventWrite{key: key, create: ev, object: object}) {
		r.series.Add(key, &eventSeries{object: object, count: 1, written: 1, last: now, patched: now})
	}
}

// writeCount queues the series' count; the caller holds mu.
func (r *eventRecorder) writeCount(key eventKey, s *eventSeries, now time.Time) {
	w := eventWrite{key: key, object: s.object, series: &eventsv1.EventSeries{Count: s.count, LastObservedTime: metav1.NewMicroTime(s.last)}}
	if r.enqueue(w) {
		s.patched, s.written = now, s.count
	}
}

// writeUnwrittenCounts queues the counts of series that stopped repeating
// since their count was last written, once seriesFlush has passed since.
func (r *eventRecorder) writeUnwrittenCounts() {
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	for key := range r.unwritten {
		v, ok := r.series.Get(key)
		if !ok {
			delete(r.unwritten, key)
			continue
		}
		if s := v.(*eventSeries); now.Sub(s.patched) >= seriesFlush {
			if r.writeCount(key, s, now); s.written == s.count {
				delete(r.unwritten, key)
			}
		}
	}
}

// reference refers to obj without its resourceVersion; nil stays nil.
func (r *eventRecorder) reference(obj runtime.Object) (*corev1.ObjectReference, error) {
	if obj == nil {
		return nil, nil
	}
	ref, err := reference.GetReference(r.scheme, obj)
	if err != nil {
		return nil, err
	}
	ref.ResourceVersion = ""
	return ref, nil
}

// eventNamespace is where an Event about ref goes: a cluster-scoped
// object's go to default, as client-go's.
func eventNamespace(ref *corev1.ObjectReference) string {
	if ref.Namespace == "" {
		return metav1.NamespaceDefault
	}
	return ref.Namespace
}

// enqueue queues a write unless the queue, or its namespace's share of it,
// is full; the caller holds mu.
func (r *eventRecorder) enqueue(w eventWrite) bool {
	ns := w.object.Namespace
	if r.queued[ns] >= eventNamespaceShare {
		eventsDroppedTotal.WithLabelValues(dropNamespaceShare).Inc()
		return false
	}
	select {
	case r.queues[fnv32(w.object.Name)%eventWriters] <- w:
		r.queued[ns]++
		return true
	default:
		eventsDroppedTotal.WithLabelValues(dropQueueFull).Inc()
		return false
	}
}

// Start writes the queued Events until ctx ends; Events still queued then
// are not written.
func (r *eventRecorder) Start(ctx context.Context) error {
	var writers sync.WaitGroup
	writers.Go(func() { wait.UntilWithContext(ctx, func(context.Context) { r.writeUnwrittenCounts() }, seriesFlush) })
	for _, queue := range r.queues {
		writers.Go(func() {
			for {
				select {
				case <-ctx.Done():
					return
				case w := <-queue:
					r.written(w.object.Namespace)
					if err := r.write(ctx, w); err != nil {
						r.forget(w)
						eventsDroppedTotal.WithLabelValues(dropWriteFailed).Inc()
						log.FromContext(ctx).V(1).Info("an Event was not written", "event", w.object, "error", err.Error())
					}
				}
			}
		})
	}
	writers.Wait()
	return nil
}

// fnv32 spreads Events over the writers by name.
func fnv32(name string) uint32 {
	h := fnv.New32a()
	_, _ = h.Write([]byte(name))
	return h.Sum32()
}

// forget drops the series of an Event that was not written or is gone, so
// that its next repeat creates an Event of its own rather than count on one
// that does not exist.
func (r *eventRecorder) forget(w eventWrite) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if v, ok := r.series.Get(w.key); ok && v.(*eventSeries).object == w.object {
		r.series.Remove(w.key)
	}
}

// NeedLeaderElection is false: every replica may record.
func (r *eventRecorder) NeedLeaderElection() bool { return false }

func (r *eventRecorder) written(namespace string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.queued[namespace]--; r.queued[namespace] <= 0 {
		delete(r.queued, namespace)
	}
}

// write creates the Event or patches its series, trying again a second
// later while the API server fails transiently.
func (r *eventRecorder) write(ctx context.Context, w eventWrite) error {
	var err error
	for attempt := range eventAttempts {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Second):
			}
		}
		if err = r.writeOnce(ctx, w); !writeFailedTransiently(err) {
			return err
		}
	}
	return err
}

func (r *eventRecorder) writeOnce(ctx context.Context, w eventWrite) error {
	ctx, cancel := context.WithTimeout(ctx, eventWriteTimeout)
	defer cancel()
	events := r.client.Events(w.object.Namespace)
	if w.create != nil {
		_, err := events.Create(ctx, w.create, metav1.CreateOptions{})
		return err
	}
	patch, err := json.Marshal(map[string]any{"series": w.series})
	if err != nil {
		return err
	}
	_, err = events.Patch(ctx, w.object.Name, types.MergePatchType, patch, metav1.PatchOptions{})
	return err
}
