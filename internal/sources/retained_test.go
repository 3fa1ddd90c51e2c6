package sources

import (
	"errors"
	"strings"
	"testing"

	"github.com/readygate/readygate/internal/cel"
)

func metricsOf(series int) *cel.Metrics {
	samples := make([]cel.Sample, series)
	for i := range samples {
		samples[i] = cel.Sample{Labels: map[string]string{"id": strings.Repeat("x", 32)}}
	}
	return &cel.Metrics{Families: map[string][]cel.Sample{"m": samples}}
}

// What the latest results keep is bounded in total and per namespace: a
// tenant whose pods serve huge scrapes gets an error on its own gates, and
// another namespace's results are still kept.
func TestRetentionBoundsKeptResults(t *testing.T) {
	small := metricsOf(1)
	r := newRetention(40 * retainedBytes(small))
	perNamespace := r.namespaceBudget()

	got := r.replace("attacker", nil, Result{Value: metricsOf(100)})
	if got.Err == nil || !strings.Contains(got.Err.Error(), "more than namespace attacker may keep") || errors.Is(got.Err, ErrNoVerdict) || got.Value != nil {
		t.Fatalf("a result over the namespace's share was kept: %+v", got)
	}
	var kept []Result
	for range 12 {
		res := r.replace("attacker", nil, Result{Value: small})
		if res.Err == nil {
			kept = append(kept, res)
		} else if !errors.Is(res.Err, ErrNoVerdict) {
			t.Fatalf("a small answer refused for what the namespace's other pods keep was taken as the pod's verdict: %v", res.Err)
		}
	}
	if int64(len(kept))*retainedBytes(small) > perNamespace || len(kept) == 0 || len(kept) == 12 {
		t.Fatalf("kept %d small results for one namespace; its share holds %d bytes", len(kept), perNamespace)
	}
	if res := r.replace("victim", nil, Result{Value: small}); res.Err != nil {
		t.Fatalf("another namespace's result was refused: %v", res.Err)
	}
	before := r.total
	r.release("attacker", &kept[0])
	if r.total != before-retainedBytes(small) {
		t.Fatalf("releasing did not free the kept bytes: %d -> %d", before, r.total)
	}
	if res := r.replace("attacker", nil, Result{Value: small}); res.Err != nil {
		t.Fatalf("room freed by a dropped target was not reused: %v", res.Err)
	}
}

func TestRetainedBytesCountsWhatDominates(t *testing.T) {
	if retainedBytes(metricsOf(1000)) <= 1000*32 {
		t.Fatal("the labels of 1,000 series must count at least their bytes")
	}
	if got := retainedBytes(cel.HTTPResult{Body: strings.Repeat("b", 1000), JSON: map[string]any{}}); got < 1000 {
		t.Fatalf("a parsed 1,000-byte body counted %d", got)
	}
	var failed *cel.Metrics // what a failed scrape returns beside its error
	if retainedBytes(nil) != 0 || retainedBytes(failed) != 0 || retainedBytes((*PromResult)(nil)) != 0 {
		t.Fatal("an error keeps nothing")
	}
}

// Namespaces share the budget fairly as more of them keep results: four
// tenants at their quarter fill it, and a fifth namespace's small result is
// refused as readygate's overload, which is no verdict on its pod, only
// until the four next store theirs: one over its fair share while the fifth
// waits is refused, as overload too, and the fifth gets the room.
func TestRetentionSharesTheBudgetAsNamespacesJoin(t *testing.T) {
	small, big := metricsOf(1), metricsOf(100)
	r := newRetention(4 * retainedBytes(big))
	kept := map[string]*Result{}
	for _, ns := range []string{"a", "b", "c", "d"} {
		res := r.replace(ns, nil, Result{Value: big})
		if res.Err != nil {
			t.Fatalf("namespace %s at its quarter: %v", ns, res.Err)
		}
		kept[ns] = &res
	}
	first := r.replace("victim", nil, Result{Value: small})
	if !errors.Is(first.Err, ErrOverloaded) {
		t.Fatalf("with the budget full, err = %v, want ErrOverloaded", first.Err)
	}
	refused := 0
	for _, ns := range []string{"a", "b", "c", "d"} {
		switch res := r.replace(ns, kept[ns], Result{Value: big}); {
		case errors.Is(res.Err, ErrOverloaded):
			refused++
		case res.Err != nil:
			t.Fatalf("namespace %s, within its quarter: err = %v, want at most ErrOverloaded, no verdict on its pod", ns, res.Err)
		}
	}
	if refused == 0 {
		t.Fatal("no namespace over its fair share made room for the one waiting")
	}
	if res := r.replace("victim", &first, Result{Value: small}); res.Err != nil {
		t.Fatalf("the fifth namespace's small result, once the others stored theirs again: %v", res.Err)
	}
}

// A parsed JSON body counts at least what it keeps on the heap: a 1 MiB
// array of numbers is half a million boxed values, several times its bytes.
// While a namespace waits for room, another over its fair share is refused
// what it would keep, but not its failures: a dead endpoint keeps nothing,
// and must stay the pod's verdict, not turn into readygate's overload.
func TestRetentionPassesFailuresWhileNamespacesWait(t *testing.T) {
	small, big := metricsOf(1), metricsOf(100)
	r := newRetention(4 * retainedBytes(big))
	for _, ns := range []string{"a", "b", "c", "d"} {
		if res := r.replace(ns, nil, Result{Value: big}); res.Err != nil {
			t.Fatal(res.Err)
		}
	}
	if res := r.replace("victim", nil, Result{Value: small}); !errors.Is(res.Err, ErrOverloaded) {
		t.Fatalf("err = %v, want the victim waiting", res.Err)
	}
	refused := errors.New("connection refused")
	for _, failed := range []any{(*cel.Metrics)(nil), cel.HTTPResult{}} {
		if res := r.replace("a", nil, Result{Value: failed, Err: refused}); !errors.Is(res.Err, refused) || errors.Is(res.Err, ErrNoVerdict) {
			t.Fatalf("a failed fetch (%T) of a namespace over its share: err = %v, want the failure itself", failed, res.Err)
		}
	}
}
