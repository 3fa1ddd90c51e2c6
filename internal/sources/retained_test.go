package sources

import (
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
	if got.Err == nil || !strings.Contains(got.Err.Error(), "more than namespace attacker may keep") || got.Value != nil {
		t.Fatalf("a result over the namespace's share was kept: %+v", got)
	}
	var kept []Result
	for range 10 {
		if res := r.replace("attacker", nil, Result{Value: small}); res.Err == nil {
			kept = append(kept, res)
		}
	}
	if int64(len(kept))*retainedBytes(small) > perNamespace || len(kept) == 0 {
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
