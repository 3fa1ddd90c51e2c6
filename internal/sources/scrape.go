package sources

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/readygate/readygate/internal/cel"
)

// Caps of a scrape.
const (
	MaxScrapeBytes = 10 << 20
	MaxSamples     = 50000
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
	m, err := ParseMetrics(body, resp.Header, r.URL)
	if err != nil {
		return nil, fmt.Errorf("scraping %s: %w", r.URL, err)
	}
	return m, nil
}

// ParseMetrics parses a Prometheus text or OpenMetrics body into series by name.
func ParseMetrics(body []byte, header http.Header, origin string) (*cel.Metrics, error) {
	dec := &expfmt.SampleDecoder{
		Dec:  expfmt.NewDecoder(bytes.NewReader(body), expfmt.ResponseFormat(header)),
		Opts: &expfmt.DecodeOptions{Timestamp: model.TimeFromUnixNano(time.Now().UnixNano())},
	}
	m := &cel.Metrics{Families: map[string][]cel.Sample{}, Origin: origin}
	count := 0
	for {
		var v model.Vector
		if err := dec.Decode(&v); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return nil, fmt.Errorf("malformed metrics: %w", err)
		}
		for _, s := range v {
			count++
			if count > MaxSamples {
				return nil, fmt.Errorf("more than %d samples", MaxSamples)
			}
			name := string(s.Metric[model.MetricNameLabel])
			labels := make(map[string]string, len(s.Metric)-1)
			for k, v := range s.Metric {
				if k != model.MetricNameLabel {
					labels[string(k)] = string(v)
				}
			}
			m.Families[name] = append(m.Families[name], cel.Sample{Labels: labels, Value: float64(s.Value)})
		}
	}
	return m, nil
}
