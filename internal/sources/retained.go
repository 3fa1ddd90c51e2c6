package sources

import (
	"fmt"

	"github.com/readygate/readygate/internal/cel"
)

// RetainedResults is the default budget of memory that the latest results of
// all targets together may keep between fetches, at most a quarter of it for
// one namespace. Without it, a tenant's pods each serving a scrape at the
// cap would keep about 13 MiB apiece, without bound across pods.
const RetainedResults = 64 << 20

// retainedBytes estimates what a fetch's result keeps in memory. Estimates,
// not measurements: they count the strings and a fixed overhead per map
// entry and sample, which is what dominates.
func retainedBytes(v any) int64 {
	const entry = 64 // map bucket, header and pointer words per entry
	switch r := v.(type) {
	case cel.HTTPResult:
		n := int64(len(r.Body) + len(r.Error))
		if r.JSON != nil {
			n *= 4 // a parsed body: maps, slices and boxed values
		}
		return n
	case *cel.Metrics:
		if r == nil { // a failed scrape
			return 0
		}
		var n int64
		for name, samples := range r.Families {
			n += int64(len(name)) + entry
			for _, s := range samples {
				n += entry
				for k, v := range s.Labels {
					n += int64(len(k)+len(v)) + entry
				}
			}
		}
		return n
	case *PromResult:
		if r == nil {
			return 0
		}
		var n int64
		for pod, values := range r.Values {
			n += int64(len(pod)) + entry + int64(len(values))*entry
		}
		return n
	default:
		return 0
	}
}

// retention accounts what the targets' latest results keep, in total and
// per namespace; the poller holds its lock while using it.
type retention struct {
	budget      int64
	total       int64
	byNamespace map[string]int64
}

func newRetention(budget int64) *retention {
	return &retention{budget: max(budget, 1), byNamespace: map[string]int64{}}
}

func (r *retention) namespaceBudget() int64 { return max(r.budget/4, 1) }

// replace swaps a target's kept result for the next one, or, when the next
// one would exceed the budget, for an error that says so: the tenant's own
// gate sees that its endpoint serves too much, and no one else pays for it.
func (r *retention) replace(namespace string, prev *Result, next Result) Result {
	if prev != nil {
		r.release(namespace, prev)
	}
	size := retainedBytes(next.Value)
	switch {
	case size > r.namespaceBudget()-r.byNamespace[namespace]:
		return Result{Err: fmt.Errorf("the answer keeps about %d bytes, more than namespace %s may keep between fetches (%d bytes for all its pods' sources): serve fewer series or a smaller body",
			size, namespace, r.namespaceBudget()), At: next.At}
	case size > r.budget-r.total:
		return Result{Err: fmt.Errorf("the answer keeps about %d bytes, more than is left of readygate's budget for kept results (%d bytes): serve fewer series or a smaller body",
			size, r.budget), At: next.At}
	}
	r.total += size
	if size > 0 {
		r.byNamespace[namespace] += size
	}
	return next
}

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
