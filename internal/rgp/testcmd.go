package rgp

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/cel-go/common/types/ref"
	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/readygate/readygate/api/v1alpha1"
	"github.com/readygate/readygate/internal/cel"
	"github.com/readygate/readygate/internal/gate"
	"github.com/readygate/readygate/internal/podschema"
	"github.com/readygate/readygate/internal/policy"
	"github.com/readygate/readygate/internal/sources"
)

// testOptions are kubectl rgp test's flags: the policy, the pods, and a file
// or value for every source the policy reads.
type testOptions struct {
	*options
	policyFile      string
	podFiles        []string
	httpStatus      int
	httpBody        string
	httpContentType string
	metricsFile     string
	endpointsFile   string
	prometheus      []string
	now             string
}

func newTestCommand(o *options) *cobra.Command {
	t := &testOptions{options: o}
	cmd := &cobra.Command{
		Use:   "test -f POLICY.yaml --pod POD.yaml [--pod ...] [source flags]",
		Short: "Evaluate a policy offline against pod files, with no cluster",
		Long: `Evaluates a ReadinessGatePolicy against pods from files, as the operator would,
with the operator's CEL environment and the Pod schema of Kubernetes v1.37 built in.
Every source the policy reads needs its flag: --endpoints, --http-status/--http-body,
--metrics-file, --prometheus NAME=VALUE for each query.

Exit codes: 0 every pod's gate would be True; 1 some pod's would not (false, or
an evaluation error); 2 bad input: unreadable YAML, a wrong kind, a policy that
does not compile, a source the policy reads with no flag to give it.`,
		Example: `  kubectl rgp test -f policy.yaml --pod pod.yaml
  kubectl rgp test -f policy.yaml --pod pods.yaml --http-status 200 --http-body healthz.json -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return t.run(cmd.Context(), cmd) },
	}
	f := cmd.Flags()
	f.StringVarP(&t.policyFile, "filename", "f", "", "The policy: a file holding one ReadinessGatePolicy (- for standard input).")
	f.StringArrayVar(&t.podFiles, "pod", nil, "A file of Pods (documents or a List); repeat for more files.")
	f.IntVar(&t.httpStatus, "http-status", 0, "The http source's status code (default 200 when --http-body is given).")
	f.StringVar(&t.httpBody, "http-body", "", "A file holding the http source's response body.")
	f.StringVar(&t.httpContentType, "http-content-type", "", "The http source's Content-Type (JSON is also recognised by its first byte).")
	f.StringVar(&t.metricsFile, "metrics-file", "", "A file holding the pod's metrics in the Prometheus text or OpenMetrics format.")
	f.StringVar(&t.endpointsFile, "endpoints", "", "A file of EndpointSlices (documents or a List) that carry the pods.")
	f.StringArrayVar(&t.prometheus, "prometheus", nil, "NAME=VALUE: a prometheus query's value for every pod; repeat per query.")
	f.StringVar(&t.now, "now", "", "The time the expressions see as now (RFC 3339); default the current time.")
	o.addOutputFlag(cmd)
	_ = cmd.MarkFlagRequired("filename")
	_ = cmd.MarkFlagRequired("pod")
	return cmd
}

// testReport is kubectl rgp test's result.
type testReport struct {
	Policy  string       `json:"policy"`
	Results []testResult `json:"results"`
}

type testResult struct {
	Pod      string     `json:"pod"`
	Selected bool       `json:"selected"`
	Gated    bool       `json:"gated"`
	Result   Evaluation `json:"result"`
}

func (t *testOptions) run(ctx context.Context, cmd *cobra.Command) error {
	if err := t.checkOutput(); err != nil {
		return err
	}
	now, err := t.evaluationTime()
	if err != nil {
		return err
	}
	p, err := loadPolicy(t.policyFile, t.streams.In)
	if err != nil {
		return failed("%v", err)
	}
	pods, err := loadPods(t.podFiles, t.streams.In)
	if err != nil {
		return failed("%v", err)
	}
	env, err := podschema.CELEnv()
	if err != nil {
		return failed("%v", err)
	}
	// A file is a policy not yet applied: it compiles as the admission
	// webhook compiles a new policy.
	c := policy.Compile(env, p, false, nil)
	if c.Err != nil {
		return failed("policy %s does not compile: %v", p.Name, c.Err)
	}
	if err := t.checkSourceFlags(p.Spec.Sources); err != nil {
		return err
	}
	report := testReport{Policy: p.Name}
	for _, pod := range pods {
		src, err := t.gather(c, pod)
		if err != nil {
			return err
		}
		report.Results = append(report.Results, testResult{
			Pod:      pod.Name,
			Selected: c.Selector.Matches(labels.Set(pod.Labels)) && (p.Namespace == "" || p.Namespace == pod.Namespace),
			Gated:    gate.HasGate(pod, c.ConditionType),
			Result:   evaluate(ctx, c, pod, src, now),
		})
	}
	if err := t.print(cmd, report); err != nil {
		return err
	}
	for _, r := range report.Results {
		if r.Result.observation.Outcome != gate.OutcomeTrue {
			return &exitError{code: ExitNotReady}
		}
	}
	return nil
}

func (t *testOptions) evaluationTime() (time.Time, error) {
	if t.now == "" {
		return time.Now(), nil
	}
	now, err := time.Parse(time.RFC3339, t.now)
	if err != nil {
		return time.Time{}, failed("--now %q: not an RFC 3339 time such as 2026-01-02T15:04:05Z", t.now)
	}
	return now, nil
}

// checkSourceFlags fails when the policy reads a source no flag gives: a
// guess would make the result a lie.
func (t *testOptions) checkSourceFlags(s *v1alpha1.Sources) error {
	if s == nil {
		return nil
	}
	var missing []string
	if s.Endpoints != nil && t.endpointsFile == "" {
		missing = append(missing, "--endpoints (spec.sources.endpoints)")
	}
	if s.HTTP != nil && t.httpBody == "" && t.httpStatus == 0 {
		missing = append(missing, "--http-status or --http-body (spec.sources.http)")
	}
	if s.Metrics != nil && t.metricsFile == "" {
		missing = append(missing, "--metrics-file (spec.sources.metrics)")
	}
	if s.Prometheus != nil {
		given, err := t.prometheusValues()
		if err != nil {
			return err
		}
		for i, q := range s.Prometheus.Queries {
			if _, ok := given[q.Name]; !ok {
				missing = append(missing, fmt.Sprintf("--prometheus %s=VALUE (spec.sources.prometheus.queries[%d])", q.Name, i))
			}
		}
	}
	if len(missing) > 0 {
		return failed("the policy reads sources no flag gives: %s", strings.Join(missing, ", "))
	}
	return nil
}

func (t *testOptions) prometheusValues() (map[string]float64, error) {
	out := make(map[string]float64, len(t.prometheus))
	for _, kv := range t.prometheus {
		name, value, ok := strings.Cut(kv, "=")
		v, err := strconv.ParseFloat(value, 64)
		if !ok || name == "" || err != nil {
			return nil, failed("--prometheus %q: want NAME=VALUE with a number, e.g. errors=0.5", kv)
		}
		out[name] = v
	}
	return out, nil
}

// gather reads the policy's sources for one pod from the files.
func (t *testOptions) gather(c *policy.Compiled, pod *corev1.Pod) (gathered, error) {
	var g gathered
	s := c.Sources
	if s == nil {
		return g, nil
	}
	if s.Endpoints != nil {
		slices, err := loadEndpointSlices(t.endpointsFile, t.streams.In)
		if err != nil {
			return g, failed("--endpoints: %v", err)
		}
		v := cel.EndpointsValue(sources.EndpointsOf(slices, pod))
		g.add(cel.VarEndpoints, t.endpointsFile, v, readable(v))
	}
	if s.HTTP != nil {
		var body []byte
		if t.httpBody != "" {
			var err error
			if body, err = readFile(t.httpBody, t.streams.In); err != nil {
				return g, failed("--http-body %s: %v", t.httpBody, err)
			}
		}
		status := t.httpStatus
		if status == 0 {
			status = http.StatusOK
		}
		v := cel.HTTPValue(sources.HTTPResultOf(status, t.httpContentType, body, 0))
		g.add(cel.VarHTTP, t.httpBody, v, readable(v))
	}
	if s.Metrics != nil {
		m, err := t.scrape()
		if err != nil {
			return g, err
		}
		g.add(cel.VarMetrics, t.metricsFile, m, metricsShown(m, c))
	}
	if s.Prometheus != nil {
		values, err := t.prometheusValues()
		if err != nil {
			return g, err
		}
		g.add(cel.VarPrometheus, "--prometheus", prometheusValue(s.Prometheus, values, func(q string) string {
			return "no value for " + q
		}), values)
	}
	return g, nil
}

// scrape parses the metrics file as the operator parses a scrape.
func (t *testOptions) scrape() (*cel.Metrics, error) {
	body, err := readFile(t.metricsFile, t.streams.In)
	if err != nil {
		return nil, failed("--metrics-file %s: %v", t.metricsFile, err)
	}
	m, err := sources.ParseMetrics(body, metricsHeader(body), t.metricsFile)
	if err != nil {
		return nil, failed("--metrics-file %s: %v", t.metricsFile, err)
	}
	return m, nil
}

// metricsHeader is the Content-Type a server would send with the body: an
// OpenMetrics body ends with "# EOF".
func metricsHeader(body []byte) http.Header {
	h := http.Header{}
	h.Set("Content-Type", "text/plain; version=0.0.4")
	if strings.HasSuffix(strings.TrimSpace(string(body)), "# EOF") {
		h.Set("Content-Type", "application/openmetrics-text; version=1.0.0")
	}
	return h
}

// prometheusValue is the prometheus variable for one pod.
func prometheusValue(spec *v1alpha1.PrometheusSource, values map[string]float64, missing func(query string) string) ref.Val {
	names := make([]string, len(spec.Queries))
	for i, q := range spec.Queries {
		names[i] = q.Name
	}
	return cel.PrometheusValue(names, values, missing)
}
