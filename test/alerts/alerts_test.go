// Package alerts tests the PrometheusRule that readygate ships
// (config/prometheus/rules.yaml): promtool checks it and runs the unit
// tests of config/prometheus/rules_test.yaml, every alert has firing and
// quiet tests, a runbook in docs/alerts.md and a severity, and every
// metric the rules read is one the operator exports.
package alerts

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/yaml"

	// The operator's metrics, registered as the manager binary registers them.
	_ "github.com/readygate/readygate/controllers"
	"github.com/readygate/readygate/internal/promcheck"
)

var (
	rulesFile = filepath.Join("..", "..", "config", "prometheus", "rules.yaml")
	testsFile = filepath.Join("..", "..", "config", "prometheus", "rules_test.yaml")
	runbooks  = filepath.Join("..", "..", "docs", "alerts.md")
)

// runbookBase is where every alert's runbook_url points, plus the anchor
// of the alert's section.
const runbookBase = "https://github.com/readygate/readygate/blob/main/docs/alerts.md#"

type rule struct {
	Alert       string            `json:"alert"`
	Expr        string            `json:"expr"`
	For         string            `json:"for"`
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
}

type group struct {
	Name  string `json:"name"`
	Rules []rule `json:"rules"`
}

type prometheusRule struct {
	APIVersion string         `json:"apiVersion"`
	Kind       string         `json:"kind"`
	Metadata   map[string]any `json:"metadata"`
	Spec       struct {
		Groups []group `json:"groups"`
	} `json:"spec"`
}

func readRules(t *testing.T) prometheusRule {
	t.Helper()
	data, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	var pr prometheusRule
	if err := yaml.UnmarshalStrict(data, &pr); err != nil {
		t.Fatalf("%s: %v", rulesFile, err)
	}
	if pr.Kind != "PrometheusRule" || len(pr.Spec.Groups) == 0 {
		t.Fatalf("%s: want a PrometheusRule with groups, got kind %q with %d groups", rulesFile, pr.Kind, len(pr.Spec.Groups))
	}
	return pr
}

func alerts(t *testing.T) []rule {
	var all []rule
	for _, g := range readRules(t).Spec.Groups {
		all = append(all, g.Rules...)
	}
	return all
}

// promtool runs the binary that `make test` builds from the Prometheus module.
func promtool(t *testing.T, dir string, args ...string) {
	t.Helper()
	bin := os.Getenv("PROMTOOL_BINARY")
	if bin == "" {
		t.Fatal("PROMTOOL_BINARY is not set: run the tests through `make test`, which builds promtool")
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// TestPromtool checks the rules and runs their unit tests. promtool reads
// plain rule files, so the PrometheusRule's groups, as written, are written
// to one named as rules_test.yaml expects, beside a copy of the tests.
func TestPromtool(t *testing.T) {
	readRules(t) // a PrometheusRule, with nothing readRules does not know
	dir := t.TempDir()
	data, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	var pr struct {
		Spec struct {
			Groups any `json:"groups"`
		} `json:"spec"`
	}
	if err := yaml.Unmarshal(data, &pr); err != nil {
		t.Fatal(err)
	}
	plain, err := yaml.Marshal(map[string]any{"groups": pr.Spec.Groups})
	if err != nil {
		t.Fatal(err)
	}
	tests, err := os.ReadFile(testsFile)
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{"rules.yaml": plain, "rules_test.yaml": tests} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	promtool(t, dir, "check", "rules", "rules.yaml")
	promtool(t, dir, "test", "rules", "rules_test.yaml")
}

type unitTests struct {
	Tests []struct {
		AlertRuleTest []struct {
			Alertname string `json:"alertname"`
			ExpAlerts []any  `json:"exp_alerts"`
		} `json:"alert_rule_test"`
	} `json:"tests"`
}

// testedAlerts maps each alert of the unit tests to whether it is tested
// firing and tested quiet.
func testedAlerts(t *testing.T) (firing, quiet map[string]bool) {
	t.Helper()
	data, err := os.ReadFile(testsFile)
	if err != nil {
		t.Fatal(err)
	}
	var u unitTests
	if err := yaml.Unmarshal(data, &u); err != nil {
		t.Fatalf("%s: %v", testsFile, err)
	}
	firing, quiet = map[string]bool{}, map[string]bool{}
	for _, tc := range u.Tests {
		for _, a := range tc.AlertRuleTest {
			if len(a.ExpAlerts) > 0 {
				firing[a.Alertname] = true
			} else {
				quiet[a.Alertname] = true
			}
		}
	}
	return firing, quiet
}

func TestEveryAlertIsTestedAndHasARunbook(t *testing.T) {
	firing, quiet := testedAlerts(t)
	doc, err := os.ReadFile(runbooks)
	if err != nil {
		t.Fatal(err)
	}
	all := alerts(t)
	if len(all) < 8 {
		t.Fatalf("%s has %d alerts", rulesFile, len(all))
	}
	for _, a := range all {
		t.Run(a.Alert, func(t *testing.T) {
			if a.Alert == "" {
				t.Fatalf("a rule without an alert name (recording rules are not shipped): %s", a.Expr)
			}
			if !firing[a.Alert] || !quiet[a.Alert] {
				t.Errorf("%s: %s tests it firing: %v, quiet: %v; want both", testsFile, a.Alert, firing[a.Alert], quiet[a.Alert])
			}
			if s := a.Labels["severity"]; s != "critical" && s != "warning" {
				t.Errorf("severity %q, want critical (page) or warning (ticket)", s)
			}
			if want := runbookBase + strings.ToLower(a.Alert); a.Annotations["runbook_url"] != want {
				t.Errorf("runbook_url %q, want %q", a.Annotations["runbook_url"], want)
			}
			if !strings.Contains(string(doc), fmt.Sprintf("\n## %s\n", a.Alert)) {
				t.Errorf("%s has no section \"## %s\"", runbooks, a.Alert)
			}
			if a.Annotations["summary"] == "" || a.Annotations["description"] == "" {
				t.Error("want a summary and a description")
			}
		})
	}
	for name := range firing {
		if !hasAlert(all, name) {
			t.Errorf("%s tests %s, which %s does not define", testsFile, name, rulesFile)
		}
	}
}

func hasAlert(all []rule, name string) bool {
	for _, a := range all {
		if a.Alert == name {
			return true
		}
	}
	return false
}

// apiServerMetrics are the API server's own metrics the webhook alerts read;
// the webhook suite's spec "the webhooks, unreachable" shows a real API
// server counting them with the labels the alerts select.
var apiServerMetrics = []string{"apiserver_admission_webhook_fail_open_count", "apiserver_admission_webhook_rejection_count"}

func TestRulesReadOnlyExportedMetrics(t *testing.T) {
	for _, a := range alerts(t) {
		names, err := promcheck.MetricNames(a.Expr)
		if err != nil {
			t.Errorf("%s: %v", a.Alert, err)
		}
		for _, n := range names {
			if !promcheck.Exported(metrics.Registry, n) && !slices.Contains(apiServerMetrics, n) {
				t.Errorf("%s reads %s, which the operator does not export", a.Alert, n)
			}
		}
	}
}
