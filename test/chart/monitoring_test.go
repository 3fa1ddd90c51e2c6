package chart

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

func TestServiceMonitor(t *testing.T) {
	if ofKind(render(t), "ServiceMonitor") != nil {
		t.Error("a ServiceMonitor by default: installs without the Prometheus Operator would fail")
	}
	want := named(t, kustomize(t, "prometheus"), "ServiceMonitor", "readygate-controller-manager-metrics-monitor")
	for mode, set := range certModes {
		t.Run(mode, func(t *testing.T) {
			got := named(t, render(t, append(set, "metrics.serviceMonitor.enabled=true")...), "ServiceMonitor", "readygate-controller-manager-metrics-monitor")
			e, w := dig(got, "spec", "endpoints").([]any)[0].(map[string]any), dig(want, "spec", "endpoints").([]any)[0].(map[string]any)
			for _, field := range []string{"path", "port", "scheme", "bearerTokenFile"} {
				if e[field] != w[field] {
					t.Errorf("endpoint %s: %v, config/prometheus has %v", field, e[field], w[field])
				}
			}
			if dig(e, "tlsConfig", "serverName") != dig(w, "tlsConfig", "serverName") || dig(e, "tlsConfig", "ca", "secret", "key") != "ca.crt" {
				t.Errorf("the ServiceMonitor does not verify the metrics certificate: %v", e["tlsConfig"])
			}
		})
	}
}

// The alerts and the dashboard are config/'s (make chart copies them):
// rendered as they are when config/ has them, refused with the make step
// to run when it does not.
func TestPrometheusRule(t *testing.T) {
	set := "metrics.prometheusRule.enabled=true"
	source := fromConfig(t, "config/prometheus/rules.yaml", set, "files/rules.yaml")
	if source == nil {
		return
	}
	var want map[string]any
	if err := yaml.Unmarshal(source, &want); err != nil {
		t.Fatal(err)
	}
	groups := dig(want, "spec", "groups")
	if groups == nil {
		groups = want["groups"]
	}
	got := named(t, render(t, set, "metrics.prometheusRule.labels.release=prometheus"), "PrometheusRule", "readygate-alerts")
	if groups == nil || !reflect.DeepEqual(dig(got, "spec", "groups"), groups) {
		t.Errorf("the PrometheusRule's groups are not config/prometheus/rules.yaml's:\n%s", toYAML(dig(got, "spec", "groups")))
	}
	if dig(got, "metadata", "labels", "release") != "prometheus" {
		t.Error("the PrometheusRule lacks the labels a Prometheus selects rules by")
	}
}

func TestDashboardConfigMap(t *testing.T) {
	set := "grafana.dashboard.enabled=true"
	source := fromConfig(t, "config/grafana/readygate-dashboard.json", set, "files/readygate-dashboard.json")
	if source == nil {
		return
	}
	got := named(t, render(t, set), "ConfigMap", "readygate-dashboard")
	if dig(got, "metadata", "labels", "grafana_dashboard") != "1" {
		t.Error(`the dashboard ConfigMap lacks the label grafana_dashboard: "1" that Grafana's sidecar loads`)
	}
	if dig(got, "data", "readygate-dashboard.json") != strings.TrimRight(string(source), "\n") {
		t.Error("the dashboard ConfigMap does not hold config/grafana/readygate-dashboard.json")
	}
}

// fromConfig reads a file of config/ that the chart renders when set
// enables it. Where config/ does not have it, it checks that the chart
// refuses set with an error naming its copy and make chart, and returns nil.
func fromConfig(t *testing.T, path, set, copied string) []byte {
	t.Helper()
	source, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(path)))
	if err == nil {
		return source
	}
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	out, err := helmErr(t, "template", release, chartDir, "--set", set)
	if err == nil || !strings.Contains(string(out), copied) || !strings.Contains(string(out), "make chart") {
		t.Errorf("--set %s without %s: %v, want an error naming %s and make chart:\n%s", set, path, err, copied, out)
	}
	return nil
}
