package sources

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
)

// A fetch of a namespace over its fair share of a room gives what it holds
// up to a namespace within its share that waits (see room.reclaim) once it
// is slow: slowBody, ten times what 1 MiB takes on a cluster's network, for
// the bytes of an answer it reads; slowAnswer, the default probe timeout,
// for a worker it holds waiting for an answer.
const (
	slowBody   = 100 * time.Millisecond
	slowAnswer = time.Second
)

// reclaimEvery is how often, while fetches wait for room, the room looks
// again for slow fetches to end for those within their share: one that was
// quick a moment ago may be slow now.
const reclaimEvery = 100 * time.Millisecond

// errMadeRoom ends a slow fetch whose room a namespace within its fair
// share needed; the room's cause says which room.
var errMadeRoom = errors.New("ended to make room for another namespace")

var (
	errMadeRoomInBytes = fmt.Errorf("%w in readygate's bytes in flight: "+
		"the answer came slowly while its namespace held more than its fair share", errMadeRoom)
	errMadeRoomInWorkers = fmt.Errorf("%w among readygate's fetch workers: "+
		"it had run for over %s while its namespace held more than its fair share of them", errMadeRoom, slowAnswer)
)

// room is a budget shared fairly between namespaces (design rule 18): the
// bytes in flight across all fetches (rule 17), and the fetch workers. It
// is no semaphore, which serves fetches in the order they asked: tenants
// whose endpoints answer at once and then send their body slowly hold their
// bytes, and tarpits that never answer hold their workers, until they time
// out, 30 s at most; in as many namespaces as filled the budget they kept
// every other namespace's fetches queued behind theirs until those timed
// out waiting, a new pod's gate held meanwhile. Here the namespace that
// holds least goes first, and one within its fair share that waits takes
// what slow fetches of namespaces over theirs hold, which end as no
// verdict. Room comes back only when a fetch ends, so what all fetches
// hold never exceeds the budget, however many namespaces ask.
type room struct {
	mu     sync.Mutex
	budget int64
	free   int64
	// slow is how long a fetch holds its room before the room may take it
	// back; cause is what the fetch ends with then.
	slow  time.Duration
	cause error
	// coming is what the fetches ended to make room hold until they
	// return, which they do at once: it is on its way.
	coming int64
	// active counts the namespaces that hold or wait for room: the fair
	// share is an equal share among them.
	active  int
	holding map[*reservation]struct{}
	// waiting is in the order the fetches asked; reclaiming is set while a
	// goroutine looks for room for them every reclaimEvery.
	waiting    []*reservation
	reclaiming bool
}

func newRoom(budget int64, slow time.Duration, cause error) *room {
	return &room{budget: budget, free: budget, slow: slow, cause: cause, holding: map[*reservation]struct{}{}}
}

// stake is what one namespace holds of a room and waits for; the room's
// lock guards it. ending is what of held the room ended fetches to take
// back, waits how many fetches wait, and granted when the room last
// granted one: among namespaces that hold alike, the one served longest
// ago goes first, so that a tenant's many queued fetches in many
// namespaces take turns with another namespace's one.
type stake struct {
	held, ending int64
	waits        int
	granted      time.Time
}

// take waits until the room grants r its weight, or ctx ends.
func (rm *room) take(ctx context.Context, r *reservation) error {
	rm.mu.Lock()
	r.ready, r.granted, r.ended = make(chan struct{}), false, false
	rm.count(r.ns, 0, 1)
	rm.waiting = append(rm.waiting, r)
	rm.grant()
	if r.granted {
		rm.mu.Unlock()
		return nil
	}
	rm.reclaim()
	if !rm.reclaiming {
		rm.reclaiming = true
		go rm.reclaimWhileWaiting()
	}
	rm.mu.Unlock()
	select {
	case <-r.ready:
		return nil
	case <-ctx.Done():
	}
	rm.mu.Lock()
	defer rm.mu.Unlock()
	if r.granted {
		return nil
	}
	rm.waiting = slices.DeleteFunc(rm.waiting, func(w *reservation) bool { return w == r })
	rm.count(r.ns, 0, -1)
	rm.grant() // r may have been the next in line, whom the others waited for
	return ctx.Err()
}

// reclaimWhileWaiting makes room for the waiting fetches every
// reclaimEvery, until none waits: one goroutine for all of them, since
// each round walks them all.
func (rm *room) reclaimWhileWaiting() {
	tick := time.NewTicker(reclaimEvery)
	defer tick.Stop()
	for range tick.C {
		rm.mu.Lock()
		if len(rm.waiting) == 0 {
			rm.reclaiming = false
			rm.mu.Unlock()
			return
		}
		rm.reclaim()
		rm.mu.Unlock()
	}
}

// release gives back r's weight, once its fetch no longer holds it, and
// grants it to those waiting.
func (rm *room) release(r *reservation) {
	rm.mu.Lock()
	defer rm.mu.Unlock()
	delete(rm.holding, r)
	rm.free += r.weight
	if r.ended {
		rm.coming -= r.weight
		r.ns.ending -= r.weight
	}
	rm.count(r.ns, -r.weight, 0)
	r.granted, r.ended = false, false
	rm.grant()
}

// share is a namespace's fair share of the budget: an equal share among
// those that hold or wait for room. The caller holds rm.mu.
// However many namespaces there are, each may hold one unit: a namespace
// that holds a single worker is never over its share.
func (rm *room) share() int64 { return max(rm.budget/int64(max(rm.active, 1)), 1) }

// next returns the index of the fetch next in line, or -1: the first to
// ask of the namespace that holds least (see before). Room freed by a namespace's slow
// fetch so goes to a namespace within its share, not to the next of the many
// fetches a hog has queued. A fetch that does not fit holds up those
// behind it, so that smaller ones do not starve it, unless it is larger
// than a fair share: its namespace then asks for more than its due, and
// waits for it without holding up the others'. The caller holds rm.mu.
func (rm *room) next() int {
	share, next := rm.share(), -1
	for i, w := range rm.waiting {
		if w.weight > rm.free && w.weight > share {
			continue
		}
		if next < 0 || before(w.ns, rm.waiting[next].ns) {
			next = i
		}
	}
	return next
}

// before says whether namespace a goes before b: it holds less, or as much
// and was granted room longer ago.
func before(a, b *stake) bool {
	if a.held != b.held {
		return a.held < b.held
	}
	return a.granted.Before(b.granted)
}

// grant gives the fetches next in line their weight while it fits. The
// caller holds rm.mu.
func (rm *room) grant() {
	for {
		next := rm.next()
		if next < 0 || rm.waiting[next].weight > rm.free {
			return
		}
		r := rm.waiting[next]
		rm.waiting = slices.Delete(rm.waiting, next, next+1)
		rm.free -= r.weight
		rm.count(r.ns, r.weight, -1)
		rm.holding[r] = struct{}{}
		r.granted, r.since = true, time.Now()
		r.ns.granted = r.since
		close(r.ready)
	}
}

// wanted is the room that namespaces within their fair share wait for: the
// first waiting fetch of each namespace that asks for no more than its
// share, or for its first fetch: however many namespaces there are, each
// may run one fetch at once. The caller holds rm.mu.
func (rm *room) wanted() int64 {
	share, need := rm.share(), int64(0)
	counted := map[*stake]bool{}
	for _, w := range rm.waiting {
		if counted[w.ns] || w.ns.held+w.weight > max(share, w.weight) {
			continue
		}
		counted[w.ns] = true
		need += w.weight
	}
	return need
}

// reclaim makes the room wanted free, or on its way, by ending slow
// fetches of namespaces over their share, the longest held first. A
// namespace gives up room only down to its share, and only that of fetches
// slower than rm.slow, which a fetch whose answer comes does not reach: it
// ends soon by itself. Who gets the room is next's to say. The caller
// holds rm.mu.
func (rm *room) reclaim() {
	share, need := rm.share(), rm.wanted()
	now := time.Now()
	for rm.free+rm.coming < need {
		var slowest *reservation
		for h := range rm.holding {
			if h.ended || now.Sub(h.since) < rm.slow || h.ns.held-h.ns.ending <= share {
				continue
			}
			if slowest == nil || h.since.Before(slowest.since) {
				slowest = h
			}
		}
		if slowest == nil {
			return
		}
		slowest.ended = true
		slowest.ns.ending += slowest.weight
		rm.coming += slowest.weight
		slowest.cancel(rm.cause)
	}
}

// count adds to a namespace's room held and fetches waiting, and keeps
// the count of active namespaces; the caller holds rm.mu.
func (rm *room) count(l *stake, held int64, waits int) {
	was := l.held > 0 || l.waits > 0
	l.held += held
	l.waits += waits
	if is := l.held > 0 || l.waits > 0; is != was {
		if is {
			rm.active++
		} else {
			rm.active--
		}
	}
}
