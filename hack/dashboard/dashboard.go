package main

import (
	"encoding/json"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"
)

// job is the scrape job of the operator, as config/prometheus's
// ServiceMonitor names it and the alerts select it.
const job = `job="readygate"`

// ofPolicy selects the series of the policy of a repeated row.
const ofPolicy = `namespace=~"$namespace", policy="$policy"`

// ofPolicies selects the series of the policies the variables pick.
const ofPolicies = `namespace=~"$namespace", policy=~"$policy"`

var datasource = common.DataSourceRef{Type: cog.ToPtr("prometheus"), Uid: cog.ToPtr("${datasource}")}

// query is one Prometheus target with its legend.
type query struct{ expr, legend string }

func target(q query) *prometheus.DataqueryBuilder {
	return prometheus.NewDataqueryBuilder().Datasource(datasource).Expr(q.expr).LegendFormat(q.legend)
}

// graph is a time series panel of the queries.
func graph(title, description, unit string, qs ...query) *timeseries.PanelBuilder {
	p := timeseries.NewPanelBuilder().Title(title).Description(description).Unit(unit).Datasource(datasource).
		Height(8).Span(8).Min(0).FillOpacity(10)
	for _, q := range qs {
		p.WithTarget(target(q))
	}
	return p
}

// number is a stat panel of one query, coloured by the steps.
func number(title, description, expr string, steps []dashboard.Threshold) *stat.PanelBuilder {
	return stat.NewPanelBuilder().Title(title).Description(description).Datasource(datasource).
		Height(4).Span(3).WithTarget(target(query{expr: expr})).
		Thresholds(dashboard.NewThresholdsConfigBuilder().Mode(dashboard.ThresholdsModeAbsolute).Steps(steps))
}

// badFromOne colours a count of trouble: red from 1 on.
var badFromOne = []dashboard.Threshold{{Color: "green"}, {Value: cog.ToPtr(1.0), Color: "red"}}

// goodFromOne colours a count of health: red below 1.
var goodFromOne = []dashboard.Threshold{{Color: "red"}, {Value: cog.ToPtr(1.0), Color: "green"}}

// quantiles are the latency quantiles of a histogram, by the labels.
func quantiles(metric, selector, by string) []query {
	qs := make([]query, 0, 3)
	for _, q := range []string{"0.5", "0.9", "0.99"} {
		qs = append(qs, query{
			expr:   "histogram_quantile(" + q + ", sum by (le" + by + ") (rate(" + metric + "_bucket{" + selector + "}[$__rate_interval])))",
			legend: "p" + q[2:] + legendOf(by),
		})
	}
	return qs
}

// legendOf names a quantile's series by the labels it is split by.
func legendOf(by string) string {
	if by == "" {
		return ""
	}
	return " {{" + by[2:] + "}}"
}

func variables() []cog.Builder[dashboard.VariableModel] {
	return []cog.Builder[dashboard.VariableModel]{
		dashboard.NewDatasourceVariableBuilder("datasource").Label("Prometheus").Type("prometheus"),
		dashboard.NewQueryVariableBuilder("namespace").Label("Namespace").Datasource(datasource).
			Query(dashboard.StringOrMap{String: cog.ToPtr(`label_values(readygate_policy_pods{` + job + `}, namespace)`)}).
			Refresh(dashboard.VariableRefreshOnTimeRangeChanged).Sort(dashboard.VariableSortAlphabeticalAsc).Multi(true).IncludeAll(true),
		dashboard.NewQueryVariableBuilder("policy").Label("Policy").Datasource(datasource).
			Query(dashboard.StringOrMap{String: cog.ToPtr(`label_values(readygate_policy_pods{` + job + `, namespace=~"$namespace"}, policy)`)}).
			Refresh(dashboard.VariableRefreshOnTimeRangeChanged).Sort(dashboard.VariableSortAlphabeticalAsc).Multi(true).IncludeAll(true),
	}
}

// fleet is the overview of every policy the variables pick and of the operator.
func fleet() []cog.Builder[dashboard.Panel] {
	return []cog.Builder[dashboard.Panel]{
		number("Replicas up", "Operator replicas Prometheus scrapes (ReadygateOperatorDown at 0).", `sum(up{`+job+`}) or vector(0)`, goodFromOne),
		number("Pods out of traffic", "Pods whose gate is False: kept out of traffic by a policy.", `sum(readygate_policy_pods{`+job+`, `+ofPolicies+`, status="False"}) or vector(0)`, badFromOne),
		number("Held by maxUnavailable", "Pods kept True although their expression is false, because maxUnavailable has no room.", `sum(readygate_policy_held_pods{`+job+`, `+ofPolicies+`}) or vector(0)`, badFromOne),
		number("On stale data", "Pods kept True on their last good result (onError: Hold).", `sum(readygate_policy_stale_pods{`+job+`, `+ofPolicies+`}) or vector(0)`, badFromOne),
		number("Failed open", "Pods True by failOpenAfter (reason TimedOut).", `sum(readygate_policy_failed_open_pods{`+job+`, `+ofPolicies+`}) or vector(0)`, badFromOne),
		number("Missing the gate", "Selected pods that do not list the policy's condition in spec.readinessGates.", `sum(readygate_policy_missing_gate_pods{`+job+`, `+ofPolicies+`}) or vector(0)`, badFromOne),
		number("Policies not accepted", "Policies with Accepted=False.", `sum(readygate_policy_condition{`+job+`, `+ofPolicies+`, type="Accepted", status="False"}) or vector(0)`, badFromOne),
		number("Leader", "1 while a replica holds the leader lease (ReadygateNoLeader at 0).", `max(leader_election_master_status{`+job+`, name="readygate.readygate.io"})`, goodFromOne),
		graph("Gate flips by reason", "Conditions written with a changed status, by the new status and the reason written.", "ops",
			query{`sum by (status, reason) (rate(readygate_gate_flips_total{` + job + `, ` + ofPolicies + `}[$__rate_interval]))`, "{{status}} {{reason}}"}),
		graph("Errors by kind", "Evaluation, source (by source) and write errors.", "ops",
			query{`sum by (kind, source) (rate(readygate_errors_total{` + job + `, ` + ofPolicies + `}[$__rate_interval]))`, "{{kind}} {{source}}"}),
		graph("Source fetch latency", "Time to fetch a source, by source, for every policy: fetches are shared between policies.", "s",
			quantiles("readygate_source_fetch_duration_seconds", job, ", source")...),
	}
}

// policyPanels are repeated for each policy the variables pick.
func policyPanels() []cog.Builder[dashboard.Panel] {
	return []cog.Builder[dashboard.Panel]{
		graph("Pods by gate status", "The policy's gated pods by their gate's status; Unknown: not evaluated yet.", "short",
			query{`sum by (status) (readygate_policy_pods{` + job + `, ` + ofPolicy + `})`, "{{status}}"}),
		graph("Held, stale, failed open, missing the gate", "Pods True against or without a verdict, and selected pods the policy cannot gate.", "short",
			query{`sum(readygate_policy_held_pods{` + job + `, ` + ofPolicy + `})`, "held by maxUnavailable"},
			query{`sum(readygate_policy_stale_pods{` + job + `, ` + ofPolicy + `})`, "stale data"},
			query{`sum(readygate_policy_failed_open_pods{` + job + `, ` + ofPolicy + `})`, "failed open"},
			query{`sum(readygate_policy_missing_gate_pods{` + job + `, ` + ofPolicy + `})`, "missing the gate"}),
		graph("Flips by reason", "Gate flips by new status and reason, and flips maxUnavailable held back.", "ops",
			query{`sum by (status, reason) (rate(readygate_gate_flips_total{` + job + `, ` + ofPolicy + `}[$__rate_interval]))`, "{{status}} {{reason}}"},
			query{`sum(rate(readygate_gate_flips_held_total{` + job + `, ` + ofPolicy + `}[$__rate_interval]))`, "held back"}),
		graph("Evaluation latency", "Time to evaluate the policy's expressions for one pod.", "s",
			quantiles("readygate_evaluation_duration_seconds", job+", "+ofPolicy, "")...),
		graph("Evaluations by result", "Evaluations that gave a verdict.", "ops",
			query{`sum by (result) (rate(readygate_evaluations_total{` + job + `, ` + ofPolicy + `}[$__rate_interval]))`, "{{result}}"}),
		graph("Source and other errors", "Errors by kind, and failed sources by source.", "ops",
			query{`sum by (kind, source) (rate(readygate_errors_total{` + job + `, ` + ofPolicy + `}[$__rate_interval]))`, "{{kind}} {{source}}"}),
	}
}

// build lays out the fleet row and the row repeated per policy. Grafana
// keeps an expanded row's panels after it, not in it, and repeats a row
// with the panels up to the next row. The SDK prefers its dashboardv2, the
// schema of Grafana 12's new API; the classic model is what every Grafana,
// and the ConfigMap sidecars that provision dashboards, load.
//
//nolint:staticcheck // the classic model, on purpose (above)
func build() (dashboard.Dashboard, error) {
	//nolint:staticcheck // the classic model, on purpose (above)
	b := dashboard.NewDashboardBuilder("readygate").
		Uid("readygate").
		Description("readygate's policies and operator: pods by gate status, held, flips, evaluation and source latency, errors. Generated by hack/dashboard; see docs/metrics.md.").
		Tags([]string{"readygate", "kubernetes"}).
		Refresh("1m").
		Time("now-3h", "now").
		Timezone(common.TimeZoneBrowser).
		Tooltip(dashboard.DashboardCursorSyncCrosshair).
		Variables(variables()).
		WithRow(dashboard.NewRowBuilder("Fleet"))
	for _, p := range fleet() {
		b.WithPanel(p)
	}
	b.WithRow(dashboard.NewRowBuilder("Policy $namespace/$policy").Repeat("policy"))
	for _, p := range policyPanels() {
		b.WithPanel(p)
	}
	return b.Build()
}

// render is the dashboard as written to config/grafana.
func render() ([]byte, error) {
	d, err := build()
	if err != nil {
		return nil, err
	}
	data, err := json.MarshalIndent(d, "", "  ")
	return append(data, '\n'), err
}
