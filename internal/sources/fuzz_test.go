package sources

import (
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/readygate/readygate/api/v1alpha1"
)

// FuzzParseMetrics: no body a pod serves crashes the parser, no parse
// returns more than the sample cap, and no _sum, _count or _bucket series
// appears that the body does not spell out.
func FuzzParseMetrics(f *testing.F) {
	for _, seed := range []string{
		"# TYPE lat histogram\nlat_bucket{le=\"1\"} 1\nlat_bucket{le=\"+Inf\"} 2\nlat_sum 1.5\nlat_count 2\n",
		"# TYPE rpc summary\nrpc{quantile=\"0.5\"} 1\nrpc_count 3\n",
		"# TYPE up gauge\nup 1\n# EOF\n",
		"cache_warm_ratio{pod=\"a\"} NaN\n",
	} {
		f.Add([]byte(seed), "text/plain; version=0.0.4")
		f.Add([]byte(seed), "application/openmetrics-text; version=1.0.0")
	}
	f.Add([]byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x40}, "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited")
	f.Fuzz(func(t *testing.T, body []byte, contentType string) {
		m, err := ParseMetrics(body, http.Header{"Content-Type": {contentType}}, "fuzz")
		if err != nil {
			return
		}
		n := 0
		for name, samples := range m.Families {
			n += len(samples)
			for _, suffix := range []string{"_sum", "_count", "_bucket"} {
				if strings.HasSuffix(name, suffix) && !strings.Contains(string(body), suffix) {
					t.Fatalf("series %q made up: the body has no %s line", name, suffix)
				}
			}
		}
		if n > MaxSamples {
			t.Fatalf("%d samples, over the cap", n)
		}
	})
}

// FuzzDecodeAnswer: no answer a Prometheus (or a tenant's server under an
// allowed URL) sends crashes the decoder, returns more than the sample cap
// or a value for no pod, or makes an error message that is not UTF-8.
func FuzzDecodeAnswer(f *testing.F) {
	for _, seed := range []string{
		`{"status":"success","data":{"resultType":"vector","result":[{"metric":{"pod":"a"},"value":[1,"0.5"]}]}}`,
		`{"status":"success","data":{"resultType":"vector","result":[{"metric":{"pod":"a"},"value":[1,"1"]},{"metric":{"pod":"a"},"value":[1,"2"]}]}}`,
		`{"status":"success","data":{"resultType":"scalar","result":[1,"1"]}}`,
		`{"status":"error","errorType":"bad_data","error":"parse error"}`,
		`{"status":"success","data":{"resultType":"vector","result":[{"metric":{"pod":"a"},"histogram":[1,{}]}]}}`,
		`{"status":"success","warnings":["partial response"],"data":{"resultType":"vector","result":[]}}`,
	} {
		f.Add([]byte(seed))
	}
	f.Add([]byte(`{"message":"no healthy upstream"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		// A failed status takes the other way through the decoder.
		for _, status := range []int{http.StatusOK, http.StatusServiceUnavailable} {
			values, err := DecodeAnswer(status, body)
			if err != nil {
				if !utf8.ValidString(err.Error()) {
					t.Fatalf("HTTP %d: error %q is not UTF-8, which a pod condition needs", status, err)
				}
				continue
			}
			if len(values) > MaxPrometheusSamples {
				t.Fatalf("HTTP %d: %d values, over the cap", status, len(values))
			}
			if _, ok := values[""]; ok {
				t.Fatalf("HTTP %d: a value for a sample without a pod label", status)
			}
		}
	})
}

// FuzzRenderQueries: a rendered query never keeps a "{{", and rendering
// costs at most the query's length times the namespace's.
func FuzzRenderQueries(f *testing.F) {
	for _, seed := range []string{
		`up{namespace="{{ .Namespace }}"}`,
		`{{.Namespace}}{{.Namespace}}`,
		"{{range 100000000}}{{range 100000000}}{{range 100000000}}{{range 100000000}}xyz{{end}}{{end}}{{end}}{{end}}",
		`{{{{ .Namespace }}}}`,
	} {
		f.Add(seed, "shop")
	}
	f.Fuzz(func(t *testing.T, query, namespace string) {
		out, err := RenderQueries([]v1alpha1.PrometheusQuery{{Name: "q", Query: query}}, namespace)
		if err != nil {
			if !strings.Contains(err.Error(), "spec.sources.prometheus.queries[0].query") {
				t.Fatalf("the error does not name the field: %v", err)
			}
			return
		}
		if strings.Contains(out["q"], "{{") && !strings.Contains(namespace, "{{") {
			t.Fatalf("%q rendered to %q", query, out["q"])
		}
		if len(out["q"]) > len(query)*max(1, len(namespace)) {
			t.Fatalf("%q rendered to %d bytes", query, len(out["q"]))
		}
	})
}
