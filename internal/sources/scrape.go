package sources

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"slices"
	"strconv"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/readygate/readygate/internal/cel"
)

// Caps of a scrape. A scrape parses into up to about fifty times its size
// at once, reserved from the parse budget by its structure (parsing.go), so
// the cap is what the default memory limit (256Mi, config/manager) carries
// with the bytes-in-flight and parse budgets full; real exporters' pages are
// far smaller.
const (
	MaxScrapeBytes = 2 << 20
	MaxSamples     = cel.MaxMetricSamples
)

// acceptMetrics prefers the classic text format, which every exporter serves
// and expfmt parses completely; OpenMetrics, which it parses in the common
// cases, comes second.
const acceptMetrics = "text/plain;version=0.0.4;q=0.9,application/openmetrics-text;version=1.0.0;q=0.5,*/*;q=0.1"

// Scrape fetches and parses a pod's metrics endpoint.
func (c *Client) Scrape(ctx context.Context, r Request) (*cel.Metrics, error) {
	r.Accept = acceptMetrics
	resp, body, _, err := c.get(ctx, r, MaxScrapeBytes)
	if err != nil {
		return nil, fmt.Errorf("scraping %s: %w", r.URL, unwrapURLError(err))
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("scraping %s: status %d", r.URL, resp.StatusCode)
	}
	var m *cel.Metrics
	if err := c.whileParsing(ctx, body, scrapeParseBytes(body), func() { m, err = ParseMetrics(body, resp.Header, r.URL) }); err != nil {
		return nil, fmt.Errorf("scraping %s: %w", r.URL, err)
	}
	if err != nil {
		return nil, fmt.Errorf("scraping %s: %w", r.URL, err)
	}
	if r.Families != nil {
		maps.DeleteFunc(m.Families, func(name string, _ []cel.Sample) bool { return !slices.Contains(r.Families, name) })
	}
	return m, nil
}

// ParseMetrics parses a Prometheus text or OpenMetrics body into series by
// name. It returns the series the body holds and no others: a histogram or
// summary without its _sum or _count lines has no _sum or _count series
// (expfmt's SampleDecoder would make them up as 0, and a gate reading
// `metrics.value("x_count") == 0.0` would pass on a lie), and no +Inf bucket
// is added to a histogram that lacks one.
//
// A protobuf answer is refused unread: the scrape never asks for one, and
// expfmt's protobuf decoder allocates whatever length the body's first bytes
// claim, so eight bytes from a pod could take the operator down.
func ParseMetrics(body []byte, header http.Header, origin string) (*cel.Metrics, error) {
	format := expfmt.ResponseFormat(header)
	if t := format.FormatType(); t != expfmt.TypeTextPlain && t != expfmt.TypeOpenMetrics && t != expfmt.TypeUnknown {
		return nil, fmt.Errorf("the answer's Content-Type is %q (%s); readygate asks for and reads only text/plain or OpenMetrics", header.Get("Content-Type"), format)
	}
	// The text parser holds every series before the first is counted.
	if _, n, _ := scanExposition(body); n > MaxSamples {
		return nil, fmt.Errorf("more than %d samples (%d lines that can hold one)", MaxSamples, n)
	}
	dec := expfmt.NewDecoder(bytes.NewReader(body), format)
	m := &cel.Metrics{Families: map[string][]cel.Sample{}, Origin: origin}
	count := 0
	add := func(name string, labels map[string]string, value float64) error {
		if count++; count > MaxSamples {
			return fmt.Errorf("more than %d samples", MaxSamples)
		}
		m.Families[name] = append(m.Families[name], cel.Sample{Labels: labels, Value: value})
		return nil
	}
	for {
		var mf dto.MetricFamily
		if err := dec.Decode(&mf); err != nil {
			if errors.Is(err, io.EOF) {
				return m, nil
			}
			return nil, fmt.Errorf("malformed metrics: %w", err)
		}
		for _, metric := range mf.GetMetric() {
			if err := seriesOf(mf.GetName(), metric, add); err != nil {
				return nil, err
			}
		}
	}
}

// seriesOf emits the series one metric of a family holds.
func seriesOf(name string, metric *dto.Metric, add func(name string, labels map[string]string, value float64) error) error {
	labels := func(extra ...string) map[string]string {
		l := make(map[string]string, len(metric.GetLabel())+len(extra)/2)
		for _, p := range metric.GetLabel() {
			l[p.GetName()] = p.GetValue()
		}
		for i := 0; i+1 < len(extra); i += 2 {
			l[extra[i]] = extra[i+1]
		}
		return l
	}
	switch {
	case metric.Counter != nil:
		return add(name, labels(), metric.Counter.GetValue())
	case metric.Gauge != nil:
		return add(name, labels(), metric.Gauge.GetValue())
	case metric.Untyped != nil:
		return add(name, labels(), metric.Untyped.GetValue())
	case metric.Summary != nil:
		s := metric.Summary
		for _, q := range s.GetQuantile() {
			if err := add(name, labels("quantile", formatFloat(q.GetQuantile())), q.GetValue()); err != nil {
				return err
			}
		}
		return addSumAndCount(name, s.SampleSum, countOf(s.SampleCount, nil), labels, add)
	case metric.Histogram != nil:
		h := metric.Histogram
		for _, b := range h.GetBucket() {
			count := countOf(b.CumulativeCount, b.CumulativeCountFloat)
			if count == nil {
				continue
			}
			if err := add(name+"_bucket", labels("le", formatFloat(b.GetUpperBound())), *count); err != nil {
				return err
			}
		}
		return addSumAndCount(name, h.SampleSum, countOf(h.SampleCount, h.SampleCountFloat), labels, add)
	}
	return nil
}

// addSumAndCount emits name_sum and name_count, each only when the body had it.
func addSumAndCount(name string, sum, count *float64, labels func(...string) map[string]string,
	add func(string, map[string]string, float64) error) error {
	if sum != nil {
		if err := add(name+"_sum", labels(), *sum); err != nil {
			return err
		}
	}
	if count != nil {
		return add(name+"_count", labels(), *count)
	}
	return nil
}

// countOf returns whichever of an integer and a float count the parser set,
// or nil when neither was in the body.
func countOf(n *uint64, f *float64) *float64 {
	switch {
	case f != nil:
		return f
	case n != nil:
		v := float64(*n)
		return &v
	}
	return nil
}

// formatFloat writes a quantile or bucket bound as Prometheus does, +Inf included.
func formatFloat(f float64) string {
	if math.IsInf(f, 1) {
		return "+Inf"
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}
