package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/metrics"

	// The operator's metrics, registered as the manager binary registers them.
	_ "github.com/readygate/readygate/controllers"
	"github.com/readygate/readygate/internal/promcheck"
)

var committed = filepath.Join("..", "..", "config", "grafana", "readygate-dashboard.json")

func TestCommittedDashboardIsGenerated(t *testing.T) {
	want, err := render()
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(committed)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s is not what hack/dashboard generates: run `make dashboard` and commit it", committed)
	}
}

// grafanaVariables are replaced by values of their kind before parsing:
// they are Grafana's, not PromQL.
var grafanaVariables = strings.NewReplacer("$__rate_interval", "5m", "${datasource}", "prometheus")

// labelValues is Grafana's variable query around a PromQL selector.
var labelValues = regexp.MustCompile(`^label_values\((.*), *\w+\)$`)

// queries returns every PromQL query of the dashboard as written: panel
// targets, in rows and not, and the variables' queries.
func queries(t *testing.T) map[string]string {
	t.Helper()
	var d struct {
		Panels []struct {
			panel
			Panels []panel `json:"panels"`
		} `json:"panels"`
		Templating struct {
			List []struct {
				Name  string `json:"name"`
				Query string `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	data, err := os.ReadFile(committed)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatal(err)
	}
	qs := map[string]string{}
	for _, p := range d.Panels {
		p.add(qs)
		for _, in := range p.Panels {
			in.add(qs)
		}
	}
	for _, v := range d.Templating.List {
		if m := labelValues.FindStringSubmatch(v.Query); m != nil {
			qs["variable "+v.Name] = m[1]
		}
	}
	return qs
}

type panel struct {
	Title   string `json:"title"`
	Targets []struct {
		Expr string `json:"expr"`
	} `json:"targets"`
}

func (p panel) add(qs map[string]string) {
	for i, tg := range p.Targets {
		qs[p.Title+" #"+string(rune('A'+i))] = tg.Expr
	}
}

func TestEveryQueryParsesAndReadsExportedMetrics(t *testing.T) {
	qs := queries(t)
	if len(qs) < 20 {
		t.Fatalf("found %d queries in %s", len(qs), committed)
	}
	for where, q := range qs {
		names, err := promcheck.MetricNames(grafanaVariables.Replace(q))
		if err != nil {
			t.Errorf("%s: %q: %v", where, q, err)
		}
		for _, n := range names {
			if !promcheck.Exported(metrics.Registry, n) {
				t.Errorf("%s reads %s, which the operator does not export", where, n)
			}
		}
	}
}
