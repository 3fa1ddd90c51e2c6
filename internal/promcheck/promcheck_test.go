package promcheck

import (
	"slices"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestMetricNames(t *testing.T) {
	got, err := MetricNames(`sum by (le) (rate(a_seconds_bucket{x="$y"}[5m])) / on() group_left absent(b) + max_over_time(a_seconds_bucket[1h:1m])`)
	if err != nil || !slices.Equal(got, []string{"a_seconds_bucket", "b"}) {
		t.Fatalf("got %v, %v", got, err)
	}
	if _, err := MetricNames(`rate(a[5m]`); err == nil {
		t.Fatal("an unclosed call parsed")
	}
	if _, err := MetricNames(`{job="x"}`); err == nil {
		t.Fatal("a selector without a name passed")
	}
}

func TestExported(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "h_seconds", Help: "h"}, []string{"l"}))
	reg.MustRegister(prometheus.NewCounter(prometheus.CounterOpts{Name: "c_total", Help: "c"}))
	for name, want := range map[string]bool{
		"h_seconds": true, "h_seconds_bucket": true, "h_seconds_count": true, "c_total": true, "up": true,
		"c": false, "nope": false, "nope_bucket": false,
	} {
		if got := Exported(reg, name); got != want {
			t.Errorf("Exported(%s) = %v, want %v", name, got, want)
		}
	}
	// Probing leaves nothing behind.
	if families, err := reg.Gather(); err != nil || len(families) != 1 {
		t.Fatalf("the registry holds %d families after probing (%v)", len(families), err)
	}
}
