package sources

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// roomFetch stands for a fetch in the room's tests: a reservation of weight
// in namespace l whose cancel ends ctx.
func roomFetch(rm *room, l *stake, weight int64) (context.Context, *reservation) {
	ctx, cancel := context.WithCancelCause(context.Background())
	return ctx, &reservation{weight: weight, ns: l, room: rm, cancel: cancel}
}

// hold takes one unit in namespace l, which must fit at once, as a fetch
// that has read its answer for age.
func hold(t *testing.T, rm *room, l *stake, age time.Duration) (context.Context, *reservation) {
	t.Helper()
	ctx, r := roomFetch(rm, l, 1)
	at, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if err := rm.take(at, r); err != nil {
		t.Fatalf("no room at once: %v", err)
	}
	rm.mu.Lock()
	defer rm.mu.Unlock()
	r.since = time.Now().Add(-age)
	return ctx, r
}

// wait takes weight in namespace l in the background, and says when the
// room granted it. A test that fails first ends the wait.
func wait(t *testing.T, rm *room, l *stake, weight int64) (*reservation, *atomic.Bool) {
	t.Helper()
	ctx, r := roomFetch(rm, l, weight)
	var granted atomic.Bool
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := rm.take(ctx, r); err == nil {
			granted.Store(true)
		}
	})
	t.Cleanup(func() { r.cancel(nil); wg.Wait() })
	return r, &granted
}

// waitingNow is how many fetches wait for the room.
func (rm *room) waitingNow() int {
	rm.mu.Lock()
	defer rm.mu.Unlock()
	return len(rm.waiting)
}

// Bytes a namespace gives back go to the namespace that holds least, not
// to the fetch that asked first: a hog's queued fetches do not come before
// another namespace's.
func TestRoomServesTheNamespaceThatHoldsLeastFirst(t *testing.T) {
	rm := newRoom(2, slowBody, errMadeRoomInBytes)
	hog, other := &stake{}, &stake{}
	_, first := hold(t, rm, hog, 0)
	_, second := hold(t, rm, hog, 0)
	hogsNext, hogGranted := wait(t, rm, hog, 1)
	waitFor(t, func() bool { return rm.waitingNow() == 1 })
	othersFirst, otherGranted := wait(t, rm, other, 1)
	waitFor(t, func() bool { return rm.waitingNow() == 2 })
	rm.release(first)
	waitFor(t, otherGranted.Load)
	if hogGranted.Load() {
		t.Fatal("the hog's next fetch got the room, which the other namespace waited for holding nothing")
	}
	rm.release(second)
	waitFor(t, hogGranted.Load)
	rm.release(hogsNext)
	rm.release(othersFirst)
}

// A namespace within its fair share that waits ends the slow fetch held
// longest of a namespace over its share, one that is enough, and gets its
// bytes once that fetch gives them back. A namespace over its share ends
// none, nor does anyone end a fetch that reads its answer quickly.
func TestRoomTakesASlowFetchsBytesForANamespaceWithinItsShare(t *testing.T) {
	rm := newRoom(4, slowBody, errMadeRoomInBytes)
	hog, other := &stake{}, &stake{}
	ctxs, held := make([]context.Context, 0, 4), make([]*reservation, 0, 4)
	for _, age := range []time.Duration{0, 3 * slowBody, 2 * slowBody, 0} {
		ctx, r := hold(t, rm, hog, age)
		ctxs, held = append(ctxs, ctx), append(held, r)
	}
	// The hog's own next fetch is over its share: it waits its turn.
	hogsNext, hogGranted := wait(t, rm, hog, 1)
	waitFor(t, func() bool { return rm.waitingNow() == 1 })
	for i, ctx := range ctxs {
		if ctx.Err() != nil {
			t.Fatalf("the hog's fetch %d was ended for the hog's next one", i)
		}
	}

	othersFirst, otherGranted := wait(t, rm, other, 1)
	waitFor(t, func() bool { return ctxs[1].Err() != nil })
	if cause := context.Cause(ctxs[1]); !errors.Is(cause, errMadeRoom) {
		t.Fatalf("the slowest fetch ended with %v, want %v", cause, errMadeRoom)
	}
	for _, i := range []int{0, 2, 3} {
		if ctxs[i].Err() != nil {
			t.Fatalf("the hog's fetch %d was ended too: one was enough, and the slowest goes first", i)
		}
	}
	if otherGranted.Load() {
		t.Fatal("the room was granted before the ended fetch gave its bytes back")
	}
	rm.release(held[1]) // the ended fetch returns
	waitFor(t, otherGranted.Load)
	if hogGranted.Load() {
		t.Fatal("the hog's next fetch got the bytes taken back for the other namespace")
	}
	for _, r := range []*reservation{held[0], held[2], held[3], othersFirst} {
		rm.release(r)
	}
	waitFor(t, hogGranted.Load)
	rm.release(hogsNext)
}

// A fetch larger than a fair share that does not fit does not hold up the
// fetches behind it: its namespace asks for more than its due. One within
// a share does, so that smaller ones do not starve it.
func TestRoomLetsNoFetchLargerThanAShareHoldUpOthers(t *testing.T) {
	rm := newRoom(4, slowBody, errMadeRoomInBytes)
	hog, large, small := &stake{}, &stake{}, &stake{}
	held := make([]*reservation, 0, 4)
	for range 4 {
		_, r := hold(t, rm, hog, -time.Hour) // quick: none is slow
		held = append(held, r)
	}
	big, bigGranted := wait(t, rm, large, 3) // the shares are 4/3: 1
	waitFor(t, func() bool { return rm.waitingNow() == 1 })
	little, littleGranted := wait(t, rm, small, 1)
	waitFor(t, func() bool { return rm.waitingNow() == 2 })
	rm.release(held[0])
	waitFor(t, littleGranted.Load)
	if bigGranted.Load() {
		t.Fatal("3 granted with 1 free")
	}
	rm.release(little)
	rm.release(held[1])
	rm.release(held[2])
	waitFor(t, bigGranted.Load)
	rm.release(held[3])
	rm.release(big)
}

// However fetches of many namespaces come and go, slow or quick, ended to
// make room or not, what they hold at once never exceeds the budget, every
// one of them gets its room, and the room ends with its budget all free.
func TestRoomHoldsNoMoreThanItsBudget(t *testing.T) {
	const budget = 8
	rm := newRoom(budget, slowBody, errMadeRoomInBytes)
	lanes := make([]*stake, 6)
	for i := range lanes {
		lanes[i] = &stake{}
	}
	var holding, peak atomic.Int64
	var ended atomic.Int32
	var wg sync.WaitGroup
	for g := range 24 {
		wg.Go(func() {
			l := lanes[g%len(lanes)]
			for range 10 {
				ctx, r := roomFetch(rm, l, 1+rand.Int64N(4))
				if err := rm.take(ctx, r); err != nil {
					t.Error(err)
					return
				}
				n := holding.Add(r.weight)
				for old := peak.Load(); n > old && !peak.CompareAndSwap(old, n); old = peak.Load() {
				}
				if rand.IntN(8) == 0 { // a slow body, which ends once the room needs its bytes
					select {
					case <-ctx.Done():
						ended.Add(1)
					case <-time.After(3 * slowBody):
					}
				} else {
					time.Sleep(time.Duration(rand.IntN(2000)) * time.Microsecond)
				}
				holding.Add(-r.weight)
				rm.release(r)
			}
		})
	}
	wg.Wait()
	if peak.Load() > budget {
		t.Fatalf("fetches held %d at once, over the budget of %d", peak.Load(), budget)
	}
	if rm.free != budget || rm.coming != 0 || rm.active != 0 || len(rm.holding) != 0 || len(rm.waiting) != 0 {
		t.Fatalf("the room ends with %d of %d free, %d coming, %d namespaces active, %d holding, %d waiting",
			rm.free, budget, rm.coming, rm.active, len(rm.holding), len(rm.waiting))
	}
	t.Logf("peak %d of %d; %d slow fetches ended to make room", peak.Load(), budget, ended.Load())
}

// held is what the room's fetches hold now.
func (rm *room) held() int64 {
	rm.mu.Lock()
	defer rm.mu.Unlock()
	return rm.budget - rm.free
}
