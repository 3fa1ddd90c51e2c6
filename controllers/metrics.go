package controllers

import (
	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
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
		Help: "True-to-False flips deferred because the policy's maxUnavailable budget was spent.",
	}, []string{labelNamespace, labelPolicy})
)

func init() {
	metrics.Registry.MustRegister(evaluationsTotal, evaluationSeconds, flipsTotal, errorsTotal, heldFlipsTotal)
}
