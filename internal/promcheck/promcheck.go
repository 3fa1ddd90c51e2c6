// Package promcheck checks the PromQL that readygate ships (alert rules,
// the Grafana dashboard) against the metrics the operator exports, as read
// from the operator's own registry: there is no second list to drift.
package promcheck

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/promql/parser"
)

// MetricNames parses a PromQL expression and returns the metric names its
// selectors name, sorted and once each. A selector without a name (only
// label matchers) is an error: nothing could check what it reads.
func MetricNames(expr string) ([]string, error) {
	ast, err := parser.NewParser(parser.Options{}).ParseExpr(expr)
	if err != nil {
		return nil, err
	}
	var names []string
	var errs []error
	parser.Inspect(ast, func(n parser.Node, _ []parser.Node) error {
		vs, ok := n.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		if vs.Name == "" {
			errs = append(errs, fmt.Errorf("selector %s names no metric", vs))
		}
		names = append(names, vs.Name)
		return nil
	})
	slices.Sort(names)
	return slices.Compact(names), errors.Join(errs...)
}

// scraped are the series Prometheus writes itself for every target.
var scraped = []string{"up", "scrape_duration_seconds", "scrape_samples_scraped"}

// histogramSuffixes name a histogram's series.
var histogramSuffixes = []string{"_bucket", "_sum", "_count"}

// Exported reports whether a query may name the metric: reg has it
// registered (a histogram's series by their suffixes too), or Prometheus
// makes it for every scrape.
func Exported(reg prometheus.Registerer, name string) bool {
	if slices.Contains(scraped, name) || registered(reg, name) {
		return true
	}
	for _, s := range histogramSuffixes {
		if base, ok := strings.CutSuffix(name, s); ok && registered(reg, base) {
			return true
		}
	}
	return false
}

// registered asks the registry itself: a probe of the same name but another
// help string is refused only when the name is registered already. A probe
// that is accepted is unregistered at once.
func registered(reg prometheus.Registerer, name string) bool {
	probe := prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: "promcheck probe"})
	if err := reg.Register(probe); err != nil {
		return true
	}
	reg.Unregister(probe)
	return false
}
