package sources

import (
	"fmt"

	"github.com/readygate/readygate/internal/cel"
)

// RetainedResults is the default budget of memory that the latest results of
// all targets together may keep between fetches, at most a quarter of it for
// one namespace, and an equal share once more than four namespaces keep
// results. Without it, a tenant's pods each serving a scrape at the cap
// would keep up to 25 MiB apiece, without bound across pods.
const RetainedResults = 64 << 20

// What results are made of, in bytes as allocated (measured,
// TestRetainedBytesCoverWhatResultsKeep): an interface value, a boxed
// number, a string's or slice's header, a map even empty, each table group
// of up to eight entries of a map with string keys, and a metrics sample
// with its slot and empty label map.
const (
	ifaceBytes  = 16
	boxBytes    = 8
	headerBytes = 32
	mapBytes    = 64
	groupBytes  = 272
	sampleBytes = 160
)

// tableBytes is what a map of n entries allocates.
func tableBytes(n int) int64 {
	return mapBytes + int64((n+7)/8)*groupBytes
}

// retainedBytes estimates what a fetch's result keeps in memory: an
// estimate, not a measurement, counting the strings, maps and samples that
// dominate it, never under what the heap holds for the bodies a tenant can
// serve.
func retainedBytes(v any) int64 {
	switch r := v.(type) {
	case cel.HTTPResult:
		n := int64(len(r.Body) + len(r.Error))
		if r.JSON != nil {
			n += jsonBytes(r.JSON)
		}
		return n
	case *cel.Metrics:
		if r == nil { // a failed scrape
			return 0
		}
		n := tableBytes(len(r.Families))
		for name, samples := range r.Families {
			n += int64(len(name)) + headerBytes
			for _, s := range samples {
				n += sampleBytes + tableBytes(len(s.Labels)) - mapBytes
				for k, v := range s.Labels {
					n += int64(len(k) + len(v))
				}
			}
		}
		return n
	case *PromResult:
		if r == nil {
			return 0
		}
		n := tableBytes(len(r.Values))
		for pod, values := range r.Values {
			n += int64(len(pod)) + headerBytes + int64(len(values))*boxBytes
		}
		return n
	default:
		return 0
	}
}

// jsonBytes estimates what a parsed JSON value keeps: every value is an
// interface, a number also its boxed float, a string or array its header
// and contents, an object its table; a body of small values keeps many
// times its size.
func jsonBytes(v any) int64 {
	switch x := v.(type) {
	case nil, bool:
		return ifaceBytes
	case float64:
		return ifaceBytes + boxBytes
	case string:
		return ifaceBytes + headerBytes + int64(len(x))
	case []any:
		n := int64(ifaceBytes + headerBytes)
		for _, e := range x {
			n += jsonBytes(e)
		}
		return n
	case map[string]any:
		n := ifaceBytes + tableBytes(len(x))
		for k, e := range x {
			n += int64(len(k)) + jsonBytes(e)
		}
		return n
	default:
		return ifaceBytes
	}
}

// retention accounts what the targets' latest results keep, in total and
// per namespace; the poller holds its lock while using it.
type retention struct {
	budget      int64
	total       int64
	byNamespace map[string]int64
	// waiting are the namespaces refused for want of room: until a result of
	// theirs is kept, or they stop polling, the others make room for them.
	waiting map[string]bool
}

func newRetention(budget int64) *retention {
	return &retention{budget: max(budget, 1), byNamespace: map[string]int64{}, waiting: map[string]bool{}}
}

// namespaceBudget is the most one namespace may keep: a quarter of the
// budget. A result over what is left of it is the tenant's own doing.
func (r *retention) namespaceBudget() int64 { return max(r.budget/4, 1) }

// fairShare is the namespace's equal part of the budget among those that
// keep results or wait for room, four at least.
func (r *retention) fairShare(namespace string) int64 {
	n := len(r.byNamespace)
	for ns := range r.waiting {
		if _, keeps := r.byNamespace[ns]; !keeps {
			n++
		}
	}
	if _, keeps := r.byNamespace[namespace]; !keeps && !r.waiting[namespace] {
		n++
	}
	return max(r.budget/int64(max(n, 4)), 1)
}

// replace swaps a target's kept result for the next one, or, when the next
// one does not fit, for an error that says why. An answer larger than a
// namespace may keep at all is the pod's own doing: its gate learns its
// endpoint serves too much. One that fits but not beside what the
// namespace's other pods keep is no verdict on the pod: a namespace of many
// pods must not see them go False for readygate's limit. When other
// namespaces filled the budget it is ErrOverloaded, no verdict either; a
// namespace within its fair share then waits, and the namespaces over
// theirs make room (the poller's makeRoom, and their next fetches).
func (r *retention) replace(namespace string, prev *Result, next Result) Result {
	if prev != nil {
		r.release(namespace, prev)
	}
	size := retainedBytes(next.Value)
	used := r.byNamespace[namespace]
	othersWait := len(r.waiting) > 1 || len(r.waiting) == 1 && !r.waiting[namespace]
	switch {
	case next.Err != nil: // a failure is the pod's verdict to give, and small
	case size > r.namespaceBudget():
		return Result{Err: fmt.Errorf("the answer keeps about %d bytes, more than namespace %s may keep between fetches (%d bytes for all its pods' sources): serve fewer series or a smaller body",
			size, namespace, r.namespaceBudget()), At: next.At}
	case size > r.namespaceBudget()-used:
		return Result{Err: noVerdict{fmt.Errorf("the answer keeps about %d bytes, and namespace %s's other pods keep %d of the %d bytes it may keep between fetches: read fewer series or a smaller body per pod",
			size, namespace, used, r.namespaceBudget())}, At: next.At}
	case othersWait && size > r.fairShare(namespace)-used:
		return Result{Err: fmt.Errorf("the answer keeps about %d bytes, more than namespace %s's fair share (%d bytes) while other namespaces wait for room: %w",
			size, namespace, r.fairShare(namespace), ErrOverloaded), At: next.At}
	case size > r.budget-r.total:
		if size <= r.fairShare(namespace)-used {
			r.waiting[namespace] = true
		}
		return Result{Err: fmt.Errorf("the answer keeps about %d bytes, more than other namespaces left of readygate's budget (%d bytes) for now: %w",
			size, r.budget, ErrOverloaded), At: next.At}
	}
	delete(r.waiting, namespace)
	r.total += size
	if size > 0 {
		r.byNamespace[namespace] += size
	}
	return next
}

// overShare reports whether a namespace keeps more than its fair share.
func (r *retention) overShare(namespace string) bool {
	return r.byNamespace[namespace] > r.fairShare(namespace)
}

// anyOverShare reports whether some namespace keeps more than its fair share.
func (r *retention) anyOverShare() bool {
	for ns := range r.byNamespace {
		if r.overShare(ns) {
			return true
		}
	}
	return false
}

// leave forgets a namespace that polls no more.
func (r *retention) leave(namespace string) { delete(r.waiting, namespace) }

// release forgets a dropped target's kept result.
func (r *retention) release(namespace string, res *Result) {
	size := retainedBytes(res.Value)
	if size == 0 {
		return
	}
	r.total -= size
	if r.byNamespace[namespace] -= size; r.byNamespace[namespace] <= 0 {
		delete(r.byNamespace, namespace)
	}
}
