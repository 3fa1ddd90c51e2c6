package controllers

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	utilcache "k8s.io/apimachinery/pkg/util/cache"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/readygate/readygate/api/v1alpha1"
	"github.com/readygate/readygate/internal/policy"
)

// Metric names follow readygate_<noun>_<unit|total>; every error is one
// counter, readygate_errors_total, by kind. docs/metrics.md is the
// catalogue. Every label value comes from a fixed set (constants), or is a
// policy's namespace and name, whose series go with the policy.
const (
	labelNamespace = "namespace"
	labelPolicy    = "policy"
	labelKind      = "kind"
	labelSource    = "source"
	labelStatus    = "status"
)

// Kinds of readygate_errors_total.
const (
	errorEvaluation = "evaluation" // the CEL program failed
	errorSource     = "source"     // a source failed (labelled with which)
	errorWrite      = "write"      // the pod status patch failed
)

// Prometheus metrics on the manager's registry.
var (
	evaluationsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "readygate_evaluations_total",
		Help: "Policy evaluations that gave a verdict, by result (true, false); failed ones are readygate_errors_total{kind=\"evaluation\"}.",
	}, []string{labelNamespace, labelPolicy, "result"})
	evaluationSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "readygate_evaluation_duration_seconds",
		Help:    "Time to evaluate a policy's expressions for one pod.",
		Buckets: []float64{1e-6, 5e-6, 2e-5, 1e-4, 5e-4, 2e-3, 1e-2, 5e-2},
	}, []string{labelNamespace, labelPolicy})
	flipsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "readygate_gate_flips_total",
		Help: "Pod conditions written with a changed status, by new status and the reason written.",
	}, []string{labelNamespace, labelPolicy, labelStatus, "reason"})
	heldFlipsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "readygate_gate_flips_held_total",
		Help: "True-to-False flips held back because maxUnavailable had no room.",
	}, []string{labelNamespace, labelPolicy})
	evaluationsDeferredTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "readygate_evaluations_deferred_total",
		Help: "Evaluations put off because the policy's namespace spent its share of CEL cost (--evaluation-cost-per-namespace) or has as many evaluations under way as it may; the gates stay as they are meanwhile.",
	}, []string{labelNamespace, labelPolicy})
	errorsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "readygate_errors_total",
		Help: "Errors by kind: evaluation, source (with the source that failed), write.",
	}, []string{labelNamespace, labelPolicy, labelKind, labelSource})
	policyPods = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "readygate_policy_pods",
		Help: "A policy's pods that carry its gate, by the gate's status: True, False, Unknown (not evaluated yet).",
	}, []string{labelNamespace, labelPolicy, labelStatus})
	heldPods = podGauge("readygate_policy_held_pods",
		"A policy's pods kept True although the expression is false, because maxUnavailable has no room.")
	stalePods = podGauge("readygate_policy_stale_pods",
		"A policy's pods kept True on their last good result because evaluation or a source fails (onError: Hold).")
	missingGatePods = podGauge("readygate_policy_missing_gate_pods",
		"Pods a policy selects that do not list its condition in spec.readinessGates, so cannot be gated.")
	failedOpenPods = podGauge("readygate_policy_failed_open_pods",
		"A policy's pods whose gate failed open: True with reason TimedOut (failOpenAfter) without the expression holding.")
	policyCondition = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "readygate_policy_condition",
		Help: "1 for a policy condition's current status, 0 for the other statuses, by condition type (Accepted, Ready, ...).",
	}, []string{labelNamespace, labelPolicy, "type", labelStatus})
)

// eventsDroppedTotal counts the Events not written, by why: the recorder's
// queue was full, the namespace had its share of it queued, or the API
// server refused the write.
var eventsDroppedTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "readygate_events_dropped_total",
	Help: "Events not written, by reason: queue_full, namespace_share (one namespace's objects had their share of the queue), write_failed.",
}, []string{"reason"})

// podGauge is a count of a policy's pods.
func podGauge(name, help string) *prometheus.GaugeVec {
	return prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, []string{labelNamespace, labelPolicy})
}

// policyVecs are the metrics that carry a policy's labels; a deleted
// policy's series go with it.
var policyVecs = []interface {
	prometheus.Collector
	DeletePartialMatch(prometheus.Labels) int
}{evaluationsTotal, evaluationSeconds, evaluationsDeferredTotal, flipsTotal, heldFlipsTotal, errorsTotal,
	policyPods, heldPods, stalePods, missingGatePods, failedOpenPods, policyCondition}

func init() {
	for _, v := range policyVecs {
		metrics.Registry.MustRegister(v)
	}
	metrics.Registry.MustRegister(eventsDroppedTotal)
}

// conditionStatuses are every status a condition may have: each gets a
// series, so that `== 1` finds the current one and a change never leaves a
// stale 1 behind.
var conditionStatuses = []metav1.ConditionStatus{metav1.ConditionTrue, metav1.ConditionFalse, metav1.ConditionUnknown}

// recordPolicy sets the policy's gauges from its pod summary and the
// conditions of its status.
func recordPolicy(p *v1alpha1.ReadinessGatePolicy, s policy.Summary) {
	ns, name := p.Namespace, p.Name
	for status, n := range map[string]int32{"True": s.Ready, "False": s.Matched - s.Ready - s.Unevaluated, "Unknown": s.Unevaluated} {
		policyPods.WithLabelValues(ns, name, status).Set(float64(n))
	}
	heldPods.WithLabelValues(ns, name).Set(float64(s.Held))
	stalePods.WithLabelValues(ns, name).Set(float64(s.Stale))
	missingGatePods.WithLabelValues(ns, name).Set(float64(s.Missing))
	failedOpenPods.WithLabelValues(ns, name).Set(float64(s.FailedOpen))
	for _, c := range p.Status.Conditions {
		for _, status := range conditionStatuses {
			v := 0.0
			if c.Status == status {
				v = 1
			}
			policyCondition.WithLabelValues(ns, name, c.Type, string(status)).Set(v)
		}
	}
}

// countError counts an error of the policy; source names the failed source
// of a kind "source" error, and is empty otherwise.
func countError(uid types.UID, namespace, name, kind, source string) {
	goneSeries.record(uid, func() { errorsTotal.WithLabelValues(namespace, name, kind, source).Inc() })
}

// policySeries keeps a deleted policy's series deleted. A pod reconcile
// that read the policy just before it went (a tenant may strip the
// finalizer, and the policy goes at once) records its evaluation or its
// write after forgetPolicyMetrics: that series then stayed for good, and a
// tenant churning policy names over flapping pods grew the series, and
// every scrape, without bound.
type policySeries struct {
	mu sync.RWMutex
	// gone are the policies deleted in the last forgetFor.
	gone *utilcache.Expiring
}

// forgetFor is how long a deleted policy's late records are expected: far
// longer than a reconcile takes.
const forgetFor = time.Minute

// goneSeries guards the series of the pod reconciles' records, as the
// metrics are the process's.
var goneSeries = &policySeries{gone: utilcache.NewExpiring()}

// record runs add, which adds to the policy's series, unless the policy is
// gone.
func (s *policySeries) record(uid types.UID, add func()) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if _, gone := s.gone.Get(uid); !gone {
		add()
	}
}

// forget marks the policy gone: no record adds to its series from now on,
// so that deleting them after keeps them deleted.
func (s *policySeries) forget(uid types.UID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gone.Set(uid, struct{}{}, forgetFor)
}

// forgetPolicyMetrics deletes a deleted policy's series, so that tenants
// creating and deleting policies cannot grow the metrics without bound.
func forgetPolicyMetrics(p types.NamespacedName) {
	for _, v := range policyVecs {
		v.DeletePartialMatch(prometheus.Labels{labelNamespace: p.Namespace, labelPolicy: p.Name})
	}
}
