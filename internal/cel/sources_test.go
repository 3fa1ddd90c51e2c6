package cel

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/cel-go/common/types/ref"
)

func TestSources(t *testing.T) {
	env := mustEnv(t)
	metrics := &Metrics{Origin: "http://127.0.1.1:9090/metrics", Families: map[string][]Sample{
		"cache_warm_ratio": {{Labels: map[string]string{}, Value: 0.97}},
		"http_requests_total": {
			{Labels: map[string]string{"code": "200"}, Value: 90},
			{Labels: map[string]string{"code": "500"}, Value: 10},
		},
	}}
	all := []Source{EndpointsSource(), HTTPSource(), MetricsSource(), PrometheusSource([]string{"errorRate", "p99"})}
	values := map[string]ref.Val{
		VarHTTP: HTTPValue(HTTPResult{StatusCode: 200, Body: `{"ok":true}`, JSON: map[string]any{"ok": true}, LatencyMillis: 3}),
		VarEndpoints: EndpointsValue([]Endpoint{{ServiceName: "checkout", SliceName: "checkout-abc", Addresses: []string{"198.51.100.1"},
			Serving: true, Ports: []EndpointPort{{Name: "http", Port: 8080, Protocol: "TCP"}}}}),
		VarMetrics: metrics,
		VarPrometheus: PrometheusValue([]string{"errorRate", "p99"}, map[string]float64{"errorRate": 0.01},
			func(q string) string { return "query " + q + " returned no sample with pod=\"web-0\"" }),
	}
	cases := []struct {
		expr    string
		want    bool
		wantErr string
	}{
		{expr: `http.statusCode == 200 && http.json.ok && http.latencyMillis < 10 && http.error == ""`, want: true},
		{expr: `endpoints.exists(e, e.serviceName == "checkout" && e.serving && !e.ready && e.ports[0].port == 8080)`, want: true},
		{expr: `metrics.value("cache_warm_ratio") >= 0.95`, want: true},
		{expr: `metrics.value("http_requests_total", {"code": "500"}) / (metrics.value("http_requests_total", {"code": "200"}) + 10.0) == 0.1`, want: true},
		{expr: `metrics.samples("http_requests_total").map(s, s.value).size() == 2`, want: true},
		{expr: `metrics.samples("http_requests_total").exists(s, s.labels.code == "500")`, want: true},
		{expr: `metrics.value("missing") > 0.0`, wantErr: `metric "missing" is not in the scrape of http://127.0.1.1:9090/metrics`},
		{expr: `metrics.value("http_requests_total") > 0.0`, wantErr: `metric "http_requests_total" has 2 series`},
		{expr: `metrics.value("http_requests_total", {"code": "404"}) > 0.0`, wantErr: `no series of metric "http_requests_total"`},
		{expr: `prometheus.errorRate < 0.05`, want: true},
		{expr: `prometheus.p99 < 0.5`, wantErr: `query p99 returned no sample with pod="web-0"`},
	}
	for _, tc := range cases {
		t.Run(tc.expr, func(t *testing.T) {
			prog, err := env.Compile(Policy{Expression: tc.expr, Sources: all}, false)
			if err != nil {
				t.Fatal(err)
			}
			res, err := prog.Evaluate(context.Background(), Input{Pod: testPod(), Now: time.Now(), Sources: values})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.Ready != tc.want {
				t.Fatalf("ready = %v", res.Ready)
			}
		})
	}
}

func TestSourceCompileErrors(t *testing.T) {
	env := mustEnv(t)
	cases := []struct {
		expr    string
		sources []Source
		want    string
	}{
		{`metrics.value("x") > 0.0`, []Source{HTTPSource()}, "undeclared reference to 'metrics'"},
		{`prometheus.unknown > 0.0`, []Source{PrometheusSource([]string{"errorRate"})}, "undefined field 'unknown'"},
		{`http.status == 200`, []Source{HTTPSource()}, "undefined field 'status'"},
		{`metrics.value(1) > 0.0`, []Source{MetricsSource()}, "found no matching overload for 'value'"},
		{`endpoints.exists(e, e.nope)`, []Source{EndpointsSource()}, "undefined field 'nope'"},
	}
	for _, tc := range cases {
		t.Run(tc.expr, func(t *testing.T) {
			_, err := env.Compile(Policy{Expression: tc.expr, Sources: tc.sources}, false)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

// metrics.value() and metrics.samples() cost what they scan, so that a
// loop of them over a tenant's scrape is refused at admission when the
// estimate can tell, and stopped by the cost limit at run time when it
// cannot: before, each call cost 1, and one evaluation of such an
// expression over 50,000 series held a worker for minutes.
func TestMetricsFunctionsCostWhatTheyScan(t *testing.T) {
	env := mustEnv(t)
	big := &Metrics{Origin: "http://127.0.1.1:9090/metrics", Families: map[string][]Sample{"x": nil}}
	for i := range MaxMetricSamples {
		big.Families["x"] = append(big.Families["x"], Sample{Labels: map[string]string{"i": strconv.Itoa(i)}, Value: 1})
	}
	small := &Metrics{Origin: "http://127.0.1.1:9090/metrics", Families: map[string][]Sample{"x": big.Families["x"][:10]}}

	for _, tc := range []struct {
		name, expr string
		// wantCompile is the admission error; empty when the estimate
		// cannot tell and it falls to the run-time limit.
		wantCompile string
	}{
		{"value in a loop over samples", `metrics.samples("x").all(s, metrics.value("x", s.labels) >= 0.0)`, "estimated cost"},
		{"samples in a loop over samples", `metrics.samples("x").all(s, metrics.samples("x").size() > 0)`, "estimated cost"},
		// Inside a loop over the pod's labels, a map of no declared size,
		// the estimate is unbounded.
		{"value in loops over samples and the pod's labels", `pod.metadata.labels.all(k, metrics.samples("x").all(s, metrics.value("x", s.labels) >= 0.0))`, ""},
		{"samples in loops over samples and the pod's labels", `pod.metadata.labels.all(k, metrics.samples("x").all(s, metrics.samples("x").size() > 0))`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			prog, err := env.Compile(Policy{Expression: tc.expr, Sources: []Source{MetricsSource()}}, false)
			if tc.wantCompile != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantCompile) {
					t.Fatalf("compile err = %v, want %q", err, tc.wantCompile)
				}
				// Admitted before the estimate knew better, it stays
				// accepted, and the run-time limit stops it.
				prog, err = env.Compile(Policy{Expression: tc.expr, Sources: []Source{MetricsSource()}}, true)
			}
			if err != nil {
				t.Fatal(err)
			}
			pod := testPod()
			pod.Labels = map[string]string{"app": "web"}
			if res, err := prog.Evaluate(context.Background(), Input{Pod: pod, Now: time.Now(), Sources: map[string]ref.Val{VarMetrics: small}}); err != nil || !res.Ready {
				t.Fatalf("over 10 series: %v %v", res, err)
			}
			// Without the costs it runs for minutes: give up well before.
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			start := time.Now()
			_, err = prog.Evaluate(ctx, Input{Pod: pod, Now: time.Now(), Sources: map[string]ref.Val{VarMetrics: big}})
			if err == nil || !strings.Contains(err.Error(), "cost limit exceeded") {
				t.Fatalf("over %d series: err = %v after %s, want the cost limit", MaxMetricSamples, err, time.Since(start))
			}
		})
	}
}

// TestUnavailableSourcesDecideWhenTheyCan: a source that failed stands as
// unknown, so an expression whose result does not depend on it still
// decides (a pod answering 503 is not ready whatever Prometheus says), and
// one that does depend on it is undetermined.
func TestUnavailableSourcesDecideWhenTheyCan(t *testing.T) {
	env := mustEnv(t)
	all := []Source{HTTPSource(), MetricsSource(), PrometheusSource([]string{"up"})}
	values := func(status int64) map[string]ref.Val {
		return map[string]ref.Val{
			VarHTTP:       HTTPValue(HTTPResult{StatusCode: int(status)}),
			VarMetrics:    Unavailable(VarMetrics),
			VarPrometheus: Unavailable(VarPrometheus),
		}
	}
	cases := []struct {
		policy  Policy
		status  int64
		want    bool
		wantMsg string
		wantErr error
	}{
		{policy: Policy{Expression: `http.statusCode == 200 && prometheus.up == 1.0`}, status: 503, want: false},
		{policy: Policy{Expression: `http.statusCode == 200 && prometheus.up == 1.0`}, status: 200, wantErr: ErrUndetermined},
		{policy: Policy{Expression: `http.statusCode == 200 || prometheus.up == 1.0`}, status: 200, want: true},
		{policy: Policy{Expression: `http.statusCode == 200 && metrics.value("up") == 1.0`}, status: 503, want: false},
		{policy: Policy{Expression: `http.statusCode == 200 && has(prometheus.up)`}, status: 200, wantErr: ErrUndetermined},
		{policy: Policy{Variables: []Variable{{Name: "prom", Expression: "prometheus.up == 1.0"}},
			Expression: `http.statusCode == 200 && variables.prom`}, status: 503, want: false},
		{policy: Policy{Variables: []Variable{{Name: "prom", Expression: "prometheus.up == 1.0"}},
			Expression: `variables.prom`}, status: 200, wantErr: ErrUndetermined},
		// A message that needs the failed source is left out, not an error.
		{policy: Policy{Expression: `http.statusCode == 200 && prometheus.up == 1.0`, MessageExpression: `'up is ' + string(prometheus.up)`},
			status: 503, want: false, wantMsg: ""},
		{policy: Policy{Expression: `http.statusCode == 200 && prometheus.up == 1.0`, MessageExpression: `'http ' + string(http.statusCode)`},
			status: 503, want: false, wantMsg: "http 503"},
	}
	for _, tc := range cases {
		t.Run(tc.policy.Expression+"/"+strconv.FormatInt(tc.status, 10), func(t *testing.T) {
			prog, err := env.Compile(Policy{Expression: tc.policy.Expression, MessageExpression: tc.policy.MessageExpression,
				Variables: tc.policy.Variables, Sources: all}, false)
			if err != nil {
				t.Fatal(err)
			}
			res, err := prog.Evaluate(context.Background(), Input{Pod: testPod(), Now: time.Now(), Sources: values(tc.status)})
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.Ready != tc.want || res.Message != tc.wantMsg {
				t.Fatalf("ready = %v, message %q; want %v, %q", res.Ready, res.Message, tc.want, tc.wantMsg)
			}
		})
	}
	// explain shows a variable that needs a failed source as such.
	prog, err := env.Compile(Policy{Variables: []Variable{{Name: "prom", Expression: "prometheus.up == 1.0"}},
		Expression: `http.statusCode == 200 && variables.prom`, Sources: all}, false)
	if err != nil {
		t.Fatal(err)
	}
	_, vars, err := prog.Trace(context.Background(), Input{Pod: testPod(), Now: time.Now(), Sources: values(503)})
	if err != nil || len(vars) != 1 || !strings.Contains(vars[0].Error, "prometheus") {
		t.Fatalf("trace = %+v, %v; want the variable's error to name prometheus", vars, err)
	}
}
