package controllers

import (
	"fmt"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// recorderAt is a recorder whose clock the test moves and whose queue it
// reads; it writes nothing.
func recorderAt(now *time.Time) *eventRecorder {
	r := newEventRecorder(NewScheme(), nil)
	r.now = func() time.Time { return *now }
	return r
}

func podNamed(namespace, name string) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name, UID: types.UID(name), ResourceVersion: name}}
}

// drain returns the writes queued, as the writers would take them.
func drain(r *eventRecorder) []eventWrite {
	var ws []eventWrite
	for _, queue := range r.queues {
		for len(queue) > 0 {
			w := <-queue
			r.written(w.object.Namespace)
			ws = append(ws, w)
		}
	}
	return ws
}

// dropped reads readygate_events_dropped_total for a reason.
func dropped(t *testing.T, reason string) float64 {
	t.Helper()
	m := &dto.Metric{}
	if err := eventsDroppedTotal.WithLabelValues(reason).Write(m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

func TestEventRepeatsFormASeries(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	r := recorderAt(&now)
	pod := podNamed("ns", "web-0")
	flip := func(status string) {
		pod.ResourceVersion += "1" // each flip writes the pod
		r.Eventf(pod, nil, status, "GateFlipped", "Evaluate", "gate is %s", status)
	}
	flip(corev1.EventTypeNormal)
	flip(corev1.EventTypeWarning)
	ws := drain(r)
	if len(ws) != 2 || ws[0].create == nil || ws[1].create == nil {
		t.Fatalf("two directions' first flips: %+v, want an Event created for each", ws)
	}
	first := ws[0].object
	if ws[0].create.Regarding.ResourceVersion != "" || ws[0].create.Note != "gate is Normal" || ws[0].create.ReportingController != eventSource {
		t.Errorf("the Event created: %+v", ws[0].create)
	}

	for i := range 4 {
		now = now.Add(time.Second)
		flip(corev1.EventTypeNormal)
		ws = drain(r)
		switch {
		case i == 0 && (len(ws) != 1 || ws[0].series == nil || ws[0].series.Count != 2 || ws[0].object != first):
			t.Fatalf("the second occurrence: %+v, want the series' count 2 written on %v", ws, first)
		case i > 0 && len(ws) != 0:
			t.Fatalf("occurrence %d, %s after the series was written: %+v, want nothing written before %s", i+2, time.Duration(i)*time.Second, ws, seriesFlush)
		}
	}
	now = now.Add(seriesFlush)
	flip(corev1.EventTypeNormal)
	if ws = drain(r); len(ws) != 1 || ws[0].series == nil || ws[0].series.Count != 6 || !ws[0].series.LastObservedTime.Time.Equal(now) {
		t.Fatalf("a repeat %s after the last count written: %+v, want the count 6 written", seriesFlush, ws)
	}
	now = now.Add(seriesWindow)
	flip(corev1.EventTypeNormal)
	if ws = drain(r); len(ws) != 1 || ws[0].create == nil || ws[0].object == first {
		t.Fatalf("a repeat %s after the last: %+v, want a new Event", seriesWindow, ws)
	}
}

func TestEventQueueHoldsANamespacesShare(t *testing.T) {
	now := time.Now()
	r := recorderAt(&now)
	shareDropped := dropped(t, dropNamespaceShare)
	fullDropped := dropped(t, dropQueueFull)
	for i := range eventNamespaceShare + 10 {
		r.Eventf(podNamed("flapping", fmt.Sprintf("p-%d", i)), nil, corev1.EventTypeNormal, "GateFlipped", "Evaluate", "x")
	}
	if got := dropped(t, dropNamespaceShare) - shareDropped; got != 10 {
		t.Errorf("%d Events of one namespace past its share of %d dropped, want 10", int(got), eventNamespaceShare)
	}
	// Other namespaces fill the rest of the queue, and no more.
	for i := range eventQueue {
		r.Eventf(podNamed(fmt.Sprintf("ns-%d", i%64), fmt.Sprintf("p-%d", i)), nil, corev1.EventTypeNormal, "GateFlipped", "Evaluate", "x")
	}
	if got, want := len(drain(r)), eventQueue; got != want {
		t.Errorf("%d writes queued, want the queue's %d", got, want)
	}
	if got, want := dropped(t, dropQueueFull)-fullDropped, float64(eventNamespaceShare); got != want {
		t.Errorf("%v Events dropped with the queue full, want %v", got, want)
	}
	if len(r.queued) != 0 {
		t.Errorf("the queue is empty but counts %v", r.queued)
	}
}

func TestEventSeriesKeysAreBounded(t *testing.T) {
	now := time.Now()
	r := recorderAt(&now)
	for i := range 3 * seriesKeys {
		r.Eventf(podNamed(fmt.Sprintf("ns-%d", i%100), fmt.Sprintf("p-%d", i)), nil, corev1.EventTypeNormal, "GateFlipped", "Evaluate", "x")
		if i%eventNamespaceShare == 0 {
			drain(r)
		}
	}
	if got := r.series.Len(); got != seriesKeys {
		t.Errorf("%d series kept after %d distinct Events, want at most %d", got, 3*seriesKeys, seriesKeys)
	}
}

// An Event that was not written starts no series: its next repeat is an
// Event of its own, not a count on one that does not exist.
func TestEventNotWrittenStartsNoSeries(t *testing.T) {
	now := time.Now()
	r := recorderAt(&now)
	pod := podNamed("ns", "web-0")
	r.Eventf(pod, nil, corev1.EventTypeNormal, "GateFlipped", "Evaluate", "x")
	ws := drain(r)
	if len(ws) != 1 || ws[0].create == nil {
		t.Fatalf("first occurrence: %+v, want an Event created", ws)
	}
	r.forget(ws[0]) // as a writer does when the create fails
	now = now.Add(time.Second)
	r.Eventf(pod, nil, corev1.EventTypeNormal, "GateFlipped", "Evaluate", "x")
	if ws = drain(r); len(ws) != 1 || ws[0].create == nil {
		t.Fatalf("the repeat of an Event not written: %+v, want an Event created", ws)
	}
}

func TestEventNamesFitWithinANamesLength(t *testing.T) {
	now := time.Now()
	r := recorderAt(&now)
	long := strings.Repeat("a", 253)
	r.Eventf(podNamed("ns", long), nil, corev1.EventTypeNormal, "GateFlipped", "Evaluate", "x")
	ws := drain(r)
	if len(ws) != 1 || len(ws[0].create.Name) > 253 || ws[0].create.Regarding.Name != long {
		t.Fatalf("an Event about a pod named with 253 bytes: %d writes, name of %d bytes", len(ws), len(ws[0].create.Name))
	}
}

// A series whose repeats stop before their count is written still gets it
// written, with the time of its last occurrence.
func TestEventSeriesCountsAreWrittenWhenRepeatsStop(t *testing.T) {
	now := time.Now()
	r := recorderAt(&now)
	pod := podNamed("ns", "web-0")
	for range 4 {
		r.Eventf(pod, nil, corev1.EventTypeNormal, "GateFlipped", "Evaluate", "x")
		now = now.Add(time.Second)
	}
	last := now.Add(-time.Second)
	if ws := drain(r); len(ws) != 2 || ws[1].series == nil || ws[1].series.Count != 2 {
		t.Fatalf("4 occurrences a second apart: %+v, want the Event and its count 2", ws)
	}
	r.writeUnwrittenCounts()
	if ws := drain(r); len(ws) != 0 {
		t.Fatalf("a sweep within %s of the count written: %+v, want nothing", seriesFlush, ws)
	}
	now = now.Add(seriesFlush)
	r.writeUnwrittenCounts()
	ws := drain(r)
	if len(ws) != 1 || ws[0].series == nil || ws[0].series.Count != 4 || !ws[0].series.LastObservedTime.Time.Equal(last) {
		t.Fatalf("a sweep %s later: %+v, want the count 4 at the last occurrence", seriesFlush, ws)
	}
	r.writeUnwrittenCounts()
	if ws := drain(r); len(ws) != 0 || len(r.unwritten) != 0 {
		t.Fatalf("a sweep after the count was written: %+v (unwritten %v), want nothing", ws, r.unwritten)
	}
}
