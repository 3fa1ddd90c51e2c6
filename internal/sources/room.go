package sources

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"
)

// slowBody is how long a fetch may read its answer before it counts as
// slow: ten times what 1 MiB takes on a cluster's network. A slow fetch of
// a namespace over its fair share of the bytes in flight gives them up to
// a namespace within its share that waits for room (see room.reclaim).
const slowBody = 100 * time.Millisecond

// errMadeRoom ends a slow fetch whose bytes a namespace within its fair
// share needed.
var errMadeRoom = errors.New("dropped to make room in readygate's bytes in flight for another namespace: " +
	"the answer came slowly while its namespace held more than its fair share")

// room is the budget of bytes in flight across all fetches (design rule
// 17), shared fairly between namespaces (rule 18). It is no
// semaphore.Weighted, which serves fetches in the order they asked: tenants
// whose endpoints answer at once and then send their body slowly hold their
// bytes until they time out, 30 s at most, and in as many namespaces as
// filled the budget they kept every other namespace's fetches queued behind
// theirs until those timed out waiting, a new pod's gate held meanwhile.
// Here the namespace that holds least goes first, and one within its fair
// share that waits takes the bytes of slow fetches of namespaces over
// theirs, which end as no verdict. Bytes come back only when a fetch ends,
// so what all fetches hold never exceeds the budget, however many
// namespaces ask.
type room struct {
	mu     sync.Mutex
	budget int64
	free   int64
	// coming is what the fetches ended to make room hold until they
	// return, which they do at once: it is on its way.
	coming int64
	// active counts the namespaces that hold or wait for bytes: the fair
	// share is an equal share among them.
	active  int
	holding map[*reservation]struct{}
	// waiting is in the order the fetches asked.
	waiting []*reservation
}

func newRoom(budget int64) *room {
	return &room{budget: budget, free: budget, holding: map[*reservation]struct{}{}}
}

// take waits until the room grants r its bytes, or ctx ends. While it
// waits it looks again every slowBody for slow fetches to take room from:
// a fetch that was quick a moment ago may be slow now.
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
	tick := time.NewTicker(slowBody)
	defer tick.Stop()
	for {
		rm.reclaim(r)
		rm.mu.Unlock()
		select {
		case <-r.ready:
		case <-tick.C:
		case <-ctx.Done():
		}
		rm.mu.Lock()
		if r.granted {
			rm.mu.Unlock()
			return nil
		}
		if ctx.Err() != nil {
			rm.waiting = slices.DeleteFunc(rm.waiting, func(w *reservation) bool { return w == r })
			rm.count(r.ns, 0, -1)
			rm.grant() // r may have been the next in line, whom the others waited for
			rm.mu.Unlock()
			return ctx.Err()
		}
	}
}

// release gives back r's bytes, once its fetch no longer holds them, and
// grants them to those waiting.
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
// those that hold or wait for bytes. The caller holds rm.mu.
func (rm *room) share() int64 { return rm.budget / int64(max(rm.active, 1)) }

// next returns the index of the fetch next in line, or -1: the first to
// ask of the namespace that holds least. Bytes freed by a namespace's slow
// fetch so go to a namespace within its share, not to the next of the many
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
		if next < 0 || w.ns.held < rm.waiting[next].ns.held {
			next = i
		}
	}
	return next
}

// grant gives the fetches next in line their bytes while they fit. The
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
		close(r.ready)
	}
}

// reclaim makes room for r, and for the fetch next in line if that is
// another, whose bytes come first, when r's namespace asks for no more
// than its fair share, or for its first fetch: however many namespaces
// there are, each may read one answer at once. It ends slow fetches of
// namespaces over their share, the longest held first, until the bytes
// are free or on their way; a namespace gives up bytes only down to its
// share, and only those of fetches slower than slowBody, which a fetch
// whose answer flows does not reach: it ends soon by itself. The caller
// holds rm.mu.
func (rm *room) reclaim(r *reservation) {
	share := rm.share()
	if r.ns.held+r.weight > max(share, r.weight) {
		return
	}
	need := r.weight
	if next := rm.next(); next >= 0 && rm.waiting[next] != r {
		need += rm.waiting[next].weight
	}
	now := time.Now()
	for rm.free+rm.coming < need {
		var slowest *reservation
		for h := range rm.holding {
			if h.ended || now.Sub(h.since) < slowBody || h.ns.held-h.ns.ending <= share {
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
		slowest.cancel(errMadeRoom)
	}
}

// count adds to a namespace's bytes held and fetches waiting, and keeps
// the count of active namespaces; the caller holds rm.mu.
func (rm *room) count(l *lane, held int64, waits int) {
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
