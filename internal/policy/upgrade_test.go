package policy

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/readygate/readygate/api/v1alpha1"
	"github.com/readygate/readygate/internal/cel"
	"github.com/readygate/readygate/internal/sources"
)

// Policies stored by readygate 0.1.0, as the API server returns them after
// an upgrade, decode in a list and keep failing open; those whose queries
// the API server pruned say how to mend them.
func TestPoliciesStoredBy010(t *testing.T) {
	env, err := cel.NewEnv(nil)
	if err != nil {
		t.Fatal(err)
	}
	var allowed sources.URLAllowlist
	if err := allowed.Set("http://prom:9090"); err != nil {
		t.Fatal(err)
	}
	const base = `"selector": {}, "conditionType": "readygate.io/x", "expression": "prometheus.up == 1.0"`
	cases := []struct {
		name, spec    string
		failOpenAfter time.Duration
		queries       []string
		wantErr       string
		wantWarning   string
	}{
		{name: "timeout is failOpenAfter", spec: `"timeout": "10m", "sources": {"prometheus": {"address": "http://prom:9090", "queries": [{"name": "up", "query": "up"}]}}`,
			failOpenAfter: 10 * time.Minute, queries: []string{"up"}, wantWarning: "spec.timeout is deprecated"},
		{name: "failOpenAfter wins over timeout", spec: `"timeout": "10m", "failOpenAfter": "1m", "sources": {"prometheus": {"address": "http://prom:9090", "queries": [{"name": "up", "query": "up"}]}}`,
			failOpenAfter: time.Minute, queries: []string{"up"}, wantWarning: "spec.timeout is deprecated"},
		{name: "queries as a map, in name order", spec: `"sources": {"prometheus": {"address": "http://prom:9090", "queries": {"up": "up", "errors": "sum(rate(e[1m]))"}}}`,
			queries: []string{"errors", "up"}},
		{name: "queries as a map the API server pruned", spec: `"sources": {"prometheus": {"address": "http://prom:9090", "queries": {}}}`,
			wantErr: "spec.sources.prometheus.queries: no queries; a policy stored by readygate 0.1.0 had them as a map"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			list := &v1alpha1.ReadinessGatePolicyList{}
			if err := json.Unmarshal([]byte(`{"items": [{"metadata": {"name": "p", "namespace": "ns"}, "spec": {`+base+`, `+tc.spec+`}}]}`), list); err != nil {
				t.Fatalf("the list does not decode: %v", err)
			}
			p := &list.Items[0]
			c := Compile(env, p, true, &allowed)
			if tc.wantErr != "" {
				var ie *InvalidError
				if !errors.As(c.Err, &ie) || ie.Reason != v1alpha1.ReasonInvalidSource || !strings.Contains(c.Err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %s %q", c.Err, v1alpha1.ReasonInvalidSource, tc.wantErr)
				}
				return
			}
			if c.Err != nil {
				t.Fatal(c.Err)
			}
			if c.Settings.FailOpenAfter != tc.failOpenAfter {
				t.Errorf("failOpenAfter = %s, want %s", c.Settings.FailOpenAfter, tc.failOpenAfter)
			}
			var names []string
			for _, q := range p.Spec.Sources.Prometheus.Queries {
				names = append(names, q.Name)
			}
			if strings.Join(names, ",") != strings.Join(tc.queries, ",") {
				t.Errorf("queries = %v, want %v", names, tc.queries)
			}
			if warnings := strings.Join(Warnings(p), "; "); !strings.Contains(warnings, tc.wantWarning) || (tc.wantWarning == "" && warnings != "") {
				t.Errorf("warnings = %q, want %q", warnings, tc.wantWarning)
			}
		})
	}
}
