package controllers

import (
	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/readygate/readygate/api/v1alpha1"
	"github.com/readygate/readygate/internal/policy"
)

// Metric labels.
const (
	labelNamespace = "namespace"
	labelPolicy    = "policy"
)

// Prometheus metrics on the manager's registry.
var (
	evaluationsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "readygate_evaluations_total",
		Help: "Policy evaluations by result (true, false, error).",
	}, []string{labelNamespace, labelPolicy, "result"})
	evaluationSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "readygate_evaluation_duration_seconds",
		Help:    "Time to evaluate a policy's expressions for one pod.",
		Buckets: []float64{1e-6, 5e-6, 2e-5, 1e-4, 5e-4, 2e-3, 1e-2, 5e-2},
	}, []string{labelNamespace, labelPolicy})
	flipsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "readygate_gate_flips_total",
		Help: "Pod conditions written with a changed status, by new status.",
	}, []string{labelNamespace, labelPolicy, "status"})
	errorsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "readygate_errors_total",
		Help: "Errors by kind (evaluation, write).",
	}, []string{labelNamespace, labelPolicy, "kind"})
	heldFlipsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "readygate_flips_held_total",
		Help: "True-to-False flips held back because maxUnavailable had no room.",
	}, []string{labelNamespace, labelPolicy})
	policyPods = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "readygate_policy_pods",
		Help: "A policy's pods by state: matched, ready, missing (the gate), held (True by maxUnavailable), stale (True on the last good result, onError: Hold).",
	}, []string{labelNamespace, labelPolicy, "state"})
)

// policyVecs are the series that carry a policy's labels; a deleted
// policy's series go with it.
var policyVecs = []interface {
	DeletePartialMatch(prometheus.Labels) int
}{evaluationsTotal, evaluationSeconds, flipsTotal, errorsTotal, heldFlipsTotal, policyPods}

func init() {
	metrics.Registry.MustRegister(evaluationsTotal, evaluationSeconds, flipsTotal, errorsTotal, heldFlipsTotal, policyPods)
}

// recordPodCounts sets the policy's pod gauges from its summary.
func recordPodCounts(p *v1alpha1.ReadinessGatePolicy, s policy.Summary) {
	for state, n := range map[string]int32{"matched": s.Matched, "ready": s.Ready, "missing": s.Missing, "held": s.Held, "stale": s.Stale} {
		policyPods.WithLabelValues(p.Namespace, p.Name, state).Set(float64(n))
	}
}

// forgetPolicyMetrics deletes a deleted policy's series, so that tenants
// creating and deleting policies cannot grow the metrics without bound.
func forgetPolicyMetrics(p *v1alpha1.ReadinessGatePolicy) {
	for _, v := range policyVecs {
		v.DeletePartialMatch(prometheus.Labels{labelNamespace: p.Namespace, labelPolicy: p.Name})
	}
}
