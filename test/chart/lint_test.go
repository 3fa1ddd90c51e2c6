package chart

import (
	"strings"
	"testing"
)

// certModes are the chart's two ways to a webhook certificate.
var certModes = map[string][]string{
	"self-signed":  {"webhook.certManager.enabled=false"},
	"cert-manager": {"webhook.certManager.enabled=true"},
}

func TestLintStrict(t *testing.T) {
	for mode, set := range certModes {
		t.Run(mode, func(t *testing.T) {
			args := []string{"lint", "--strict", chartDir, "--namespace", namespace, "--set", strings.Join(append(set, "metrics.serviceMonitor.enabled=true"), ",")}
			out := helm(t, args...)
			if !strings.Contains(string(out), "1 chart(s) linted, 0 chart(s) failed") {
				t.Fatalf("helm lint --strict:\n%s", out)
			}
		})
	}
}

// values.schema.json turns a mistyped value into an error naming it, at
// install time rather than as a crash-looping manager.
func TestSchemaRejectsBadValues(t *testing.T) {
	cases := map[string]string{
		"manager.sourceWorkers=many":                  "sourceWorkers",
		"manager.cacheSyncTimeout=soon":               "cacheSyncTimeout",
		"manager.prometheusAllowedURLs={prometheus}":  "prometheusAllowedURLs",
		"manager.sourcDenyCIDRs={10.0.0.0/8}":         "sourcDenyCIDRs",
		"manager.log.encoder=xml":                     "encoder",
		"resources.limits.memory=null":                "memory",
		"webhook.certManager.enabled=yes-please":      "enabled",
		"metrics.serviceMonitor.interval=every-30sec": "interval",
		"podDisruptionBudget.maxUnavailable=0":        "maxUnavailable",
		"podDisruptionBudget.maxUnavailable=0%":       "maxUnavailable",
	}
	for set, want := range cases {
		t.Run(set, func(t *testing.T) {
			out, err := helmErr(t, "template", release, chartDir, "--set", set)
			if err == nil || !strings.Contains(string(out), "values don't meet the specifications of the schema") || !strings.Contains(string(out), want) {
				t.Fatalf("helm template --set %s: %v, want a schema error naming %s:\n%s", set, err, want, out)
			}
		})
	}
}
