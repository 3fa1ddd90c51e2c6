package rgp_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/readygate/readygate/internal/rgp"
)

const samples = "../../config/samples/"

// run runs kubectl-rgp in-process and returns its exit code and output.
func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := rgp.Run(context.Background(), args, genericiooptions.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut})
	return code, out.String(), errOut.String()
}

// TestTestCommandSamples evaluates every policy of config/samples against a
// pod that makes it true and one that makes it false.
func TestTestCommandSamples(t *testing.T) {
	warmCache := []string{"-f", samples + "readygate_v1alpha1_warm_cache.yaml", "--pod", "testdata/checkout-web-pod.yaml",
		"--endpoints", "testdata/checkout-endpoints.yaml", "--http-body", "testdata/ready.txt"}
	cases := []struct {
		name    string
		args    []string
		pod     string
		want    int
		outcome string
		message string
	}{
		{"label: warm", []string{"-f", samples + "readygate_v1alpha1_label.yaml", "--pod", samples + "pods.yaml"}, "checkout-1", rgp.ExitNotReady, "true", "warm label is true"},
		{"label: not warm", []string{"-f", samples + "readygate_v1alpha1_label.yaml", "--pod", samples + "pods.yaml"}, "checkout-0", rgp.ExitNotReady, "false", "warm label is missing"},
		{"canary: big enough", []string{"-f", samples + "readygate_v1alpha1_canary.yaml", "--pod", "testdata/payments-pods.yaml"}, "payments-big", rgp.ExitNotReady, "true", ""},
		{"canary: too small", []string{"-f", samples + "readygate_v1alpha1_canary.yaml", "--pod", "testdata/payments-pods.yaml"}, "payments-small", rgp.ExitNotReady, "false", ""},
		{"soak: soaked", []string{"-f", samples + "readygate_v1alpha1_soak.yaml", "--pod", "testdata/api-pods.yaml", "--now", "2026-01-01T12:01:00Z"}, "api-soaked", rgp.ExitNotReady, "true", "waiting for 30s of readiness"},
		{"soak: restarted", []string{"-f", samples + "readygate_v1alpha1_soak.yaml", "--pod", "testdata/api-pods.yaml", "--now", "2026-01-01T12:01:00Z"}, "api-restarted", rgp.ExitNotReady, "false", "a container restarted"},
		{"soak: too early", []string{"-f", samples + "readygate_v1alpha1_soak.yaml", "--pod", "testdata/api-pods.yaml", "--now", "2026-01-01T12:00:10Z"}, "api-soaked", rgp.ExitNotReady, "false", "waiting for 30s of readiness"},
		{"warm cache: warm", append(warmCache, "--metrics-file", "testdata/warm.prom"), "checkout-web-0", rgp.ExitOK, "true", "warm ratio 0.97, /ready 200"},
		{"warm cache: cold", append(warmCache, "--metrics-file", "testdata/cold.prom"), "checkout-web-0", rgp.ExitNotReady, "false", "warm ratio 0.5, /ready 200"},
		{"warm cache: /ready 503", append(warmCache, "--metrics-file", "testdata/warm.prom", "--http-status", "503"), "checkout-web-0", rgp.ExitNotReady, "false", "warm ratio 0.97, /ready 503"},
		{"prometheus: low", []string{"-f", "testdata/prometheus-policy.yaml", "--pod", "testdata/api-pods.yaml", "--prometheus", "errors=0.01"}, "api-soaked", rgp.ExitOK, "true", ""},
		{"prometheus: high", []string{"-f", "testdata/prometheus-policy.yaml", "--pod", "testdata/api-pods.yaml", "--prometheus", "errors=3"}, "api-soaked", rgp.ExitNotReady, "false", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := run(t, append([]string{"test", "-o", "json"}, tc.args...)...)
			var report struct {
				Results []struct {
					Pod    string `json:"pod"`
					Result struct {
						Outcome string `json:"outcome"`
						Message string `json:"message"`
					} `json:"result"`
				} `json:"results"`
			}
			if err := json.Unmarshal([]byte(out), &report); err != nil {
				t.Fatalf("output is not JSON (%v): %s; stderr: %s", err, out, errOut)
			}
			found := false
			for _, r := range report.Results {
				if r.Pod != tc.pod {
					continue
				}
				found = true
				if r.Result.Outcome != tc.outcome || r.Result.Message != tc.message {
					t.Errorf("pod %s: got %s %q, want %s %q", tc.pod, r.Result.Outcome, r.Result.Message, tc.outcome, tc.message)
				}
			}
			if !found {
				t.Fatalf("no result for pod %s in %s", tc.pod, out)
			}
			if code != tc.want {
				t.Errorf("exit code %d, want %d (every pod of the file counts); stderr: %s", code, tc.want, errOut)
			}
		})
	}
}

// TestTestCommandBadInput: one clear line on stderr and exit 2 per bad input.
func TestTestCommandBadInput(t *testing.T) {
	label := samples + "readygate_v1alpha1_label.yaml"
	warmCache := samples + "readygate_v1alpha1_warm_cache.yaml"
	cases := []struct {
		name string
		args []string
		want string // in the one line on stderr
	}{
		{"unparseable YAML", []string{"-f", "testdata/broken.yaml", "--pod", samples + "pods.yaml"}, "testdata/broken.yaml"},
		{"not a policy", []string{"-f", samples + "pods.yaml", "--pod", samples + "pods.yaml"}, "holds 3 objects"},
		{"a pod where the policy goes", []string{"-f", "testdata/checkout-web-pod.yaml", "--pod", samples + "pods.yaml"}, "a v1 Pod, not a readygate.io/v1alpha1 ReadinessGatePolicy"},
		{"two documents", []string{"-f", "testdata/two-policies.yaml", "--pod", samples + "pods.yaml"}, "holds 2 objects; give one ReadinessGatePolicy per -f file"},
		{"a policy where the pods go", []string{"-f", label, "--pod", label}, "not a v1 Pod"},
		{"an unknown field", []string{"-f", "testdata/unknown-field.yaml", "--pod", samples + "pods.yaml"}, `unknown field "spec.expresion"`},
		{"an unknown field in a query", []string{"-f", "testdata/query-typo.yaml", "--pod", samples + "pods.yaml"}, `unknown field "spec.sources.prometheus.queries[0].qeury"`},
		{"0.1.0's map of queries", []string{"-f", "testdata/queries-as-map.yaml", "--pod", samples + "pods.yaml"}, "cannot unmarshal object into Go struct field"},
		{"a maxUnavailable count beyond int32", []string{"-f", "testdata/overflow.yaml", "--pod", samples + "pods.yaml"}, "cannot unmarshal number 3000000000"},
		{"does not compile", []string{"-f", "testdata/bad-expression.yaml", "--pod", samples + "pods.yaml"}, "spec.expression"},
		{"missing policy file", []string{"-f", "testdata/nope.yaml", "--pod", samples + "pods.yaml"}, "testdata/nope.yaml: open"},
		{"missing pod file", []string{"-f", label, "--pod", "testdata/nope.yaml"}, "testdata/nope.yaml: open"},
		{"missing source file", []string{"-f", warmCache, "--pod", "testdata/checkout-web-pod.yaml", "--endpoints", "testdata/checkout-endpoints.yaml", "--http-status", "200", "--metrics-file", "testdata/nope.prom"}, "--metrics-file testdata/nope.prom"},
		{"a source no flag gives", []string{"-f", warmCache, "--pod", "testdata/checkout-web-pod.yaml", "--http-status", "200"}, "--endpoints (spec.sources.endpoints), --metrics-file (spec.sources.metrics)"},
		{"a prometheus query no flag gives", []string{"-f", "testdata/prometheus-policy.yaml", "--pod", "testdata/api-pods.yaml"}, "--prometheus errors=VALUE"},
		{"a malformed prometheus value", []string{"-f", "testdata/prometheus-policy.yaml", "--pod", "testdata/api-pods.yaml", "--prometheus", "errors=lots"}, `--prometheus "errors=lots"`},
		{"malformed metrics", []string{"-f", warmCache, "--pod", "testdata/checkout-web-pod.yaml", "--endpoints", "testdata/checkout-endpoints.yaml", "--http-status", "200", "--metrics-file", "testdata/broken.yaml"}, "malformed metrics"},
		{"a bad --now", []string{"-f", label, "--pod", samples + "pods.yaml", "--now", "noon"}, "--now"},
		{"a bad output format", []string{"-f", label, "--pod", samples + "pods.yaml", "-o", "yaml"}, `--output "yaml"`},
		{"no policy flag", []string{"--pod", samples + "pods.yaml"}, `"filename" not set`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := run(t, append([]string{"test"}, tc.args...)...)
			if code != rgp.ExitError {
				t.Errorf("exit code %d, want %d; stdout: %s", code, rgp.ExitError, out)
			}
			lines := strings.Split(strings.TrimSuffix(errOut, "\n"), "\n")
			if len(lines) != 1 || !strings.HasPrefix(lines[0], "error: ") {
				t.Fatalf("stderr is not one error line: %q", errOut)
			}
			if !strings.Contains(lines[0], tc.want) {
				t.Errorf("stderr %q does not say %q", lines[0], tc.want)
			}
		})
	}
}
