package controllers_test

import (
	"os"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	dto "github.com/prometheus/client_model/go"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/readygate/readygate/api/v1alpha1"
)

// sample reads one series of the manager's registry, as a scrape would see
// it; the second result is false when the series does not exist.
func sample(name string, labels map[string]string) func() (float64, bool) {
	return func() (float64, bool) {
		families, err := metrics.Registry.Gather()
		Expect(err).NotTo(HaveOccurred())
		for _, f := range families {
			if f.GetName() != name {
				continue
			}
			for _, m := range f.GetMetric() {
				if hasLabels(m, labels) {
					return valueOf(m), true
				}
			}
		}
		return 0, false
	}
}

func hasLabels(m *dto.Metric, want map[string]string) bool {
	n := 0
	for _, l := range m.GetLabel() {
		if v, ok := want[l.GetName()]; ok {
			if v != l.GetValue() {
				return false
			}
			n++
		}
	}
	return n == len(want)
}

func valueOf(m *dto.Metric) float64 {
	switch {
	case m.GetGauge() != nil:
		return m.GetGauge().GetValue()
	case m.GetCounter() != nil:
		return m.GetCounter().GetValue()
	default:
		return float64(m.GetHistogram().GetSampleCount())
	}
}

// value is sample's value alone, for Eventually on a series that must exist.
func value(name string, labels map[string]string) func() float64 {
	return func() float64 {
		v, _ := sample(name, labels)()
		return v
	}
}

// policyLabels are a policy's series labels, plus extra name/value pairs.
func policyLabels(p *v1alpha1.ReadinessGatePolicy, kv ...string) map[string]string {
	l := map[string]string{"namespace": p.Namespace, "policy": p.Name}
	for i := 0; i+1 < len(kv); i += 2 {
		l[kv[i]] = kv[i+1]
	}
	return l
}

var _ = Describe("metrics", func() {
	It("count a policy's pods by status, held, missing and failed open, its flips by reason, errors and conditions, and forget a deleted policy", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		pods := createPods(ctx, ns, "web", 3, withGates(warmGate), withLabels("warm", "yes"))
		createPods(ctx, ns, "ungated", 1)
		capped := newPolicy(ns, "capped", "pod.metadata.labels.?warm.orValue('') == 'yes'", func(p *v1alpha1.ReadinessGatePolicy) {
			p.Spec.MaxUnavailable = ptrTo(intstr.FromInt32(1))
		})
		createAndSettle(ctx, capped, pods, corev1.ConditionTrue)
		Eventually(value("readygate_policy_pods", policyLabels(capped, "status", "True"))).Should(BeEquivalentTo(3))
		_, flipped := sample("readygate_gate_flips_total", policyLabels(capped))()
		Expect(flipped).To(BeFalse(), "a first write is no flip")
		Expect(value("readygate_policy_missing_gate_pods", policyLabels(capped))()).To(BeEquivalentTo(1))

		By("two pods turning false: one flips, the cap holds the other")
		removeWarm(ctx, pods[0])
		Eventually(statusOf(ctx, pods[0])).Should(Equal(corev1.ConditionFalse))
		removeWarm(ctx, pods[1])
		Eventually(value("readygate_policy_held_pods", policyLabels(capped))).Should(BeEquivalentTo(1))
		Eventually(value("readygate_policy_pods", policyLabels(capped, "status", "False"))).Should(BeEquivalentTo(1))
		Expect(value("readygate_policy_pods", policyLabels(capped, "status", "True"))()).To(BeEquivalentTo(2))
		Expect(value("readygate_gate_flips_total", policyLabels(capped, "status", "False", "reason", v1alpha1.ReasonExpressionFalse))()).To(BeEquivalentTo(1))
		Expect(value("readygate_gate_flips_held_total", policyLabels(capped))()).To(BeNumerically(">=", 1))
		Expect(value("readygate_evaluations_total", policyLabels(capped, "result", "false"))()).To(BeNumerically(">=", 2))
		Expect(value("readygate_policy_condition", policyLabels(capped, "type", v1alpha1.ConditionAccepted, "status", "True"))()).To(BeEquivalentTo(1))
		Expect(value("readygate_policy_condition", policyLabels(capped, "type", v1alpha1.ConditionAccepted, "status", "False"))()).To(BeEquivalentTo(0))

		By("the first pod recovering makes room: it flips True, and the held one False")
		setWarm(ctx, pods[0], "yes")
		Eventually(value("readygate_gate_flips_total", policyLabels(capped, "status", "True", "reason", v1alpha1.ReasonExpressionTrue))).Should(BeEquivalentTo(1))
		Eventually(value("readygate_policy_held_pods", policyLabels(capped))).Should(BeEquivalentTo(0))
		Eventually(value("readygate_gate_flips_total", policyLabels(capped, "status", "False", "reason", v1alpha1.ReasonExpressionFalse))).Should(BeEquivalentTo(2))

		By("a younger policy for the same gate is not accepted")
		younger := newPolicy(ns, "younger", "true")
		Expect(k8s.Create(ctx, younger)).To(Succeed())
		Eventually(value("readygate_policy_condition", policyLabels(younger, "type", v1alpha1.ConditionAccepted, "status", "False"))).Should(BeEquivalentTo(1))

		By("an expression that fails counts errors, and its gate fails open")
		const openGate = "readygate.io/open"
		opened := createPods(ctx, ns, "open", 1, withGates(openGate))
		failing := newPolicy(ns, "failing", "pod.metadata.labels['absent'] == 'x'", func(p *v1alpha1.ReadinessGatePolicy) {
			p.Spec.ConditionType = openGate
			p.Spec.Selector.MatchLabels = map[string]string{"app": "web", "warm": "never"}
			p.Spec.FailOpenAfter = &metav1.Duration{Duration: time.Second}
		})
		updatePod(ctx, opened[0], func(p *corev1.Pod) { p.Labels["warm"] = "never" })
		Expect(k8s.Create(ctx, failing)).To(Succeed())
		Eventually(conditionOf(ctx, opened[0], openGate)).Should(HaveField("Reason", v1alpha1.ReasonTimedOut))
		Eventually(value("readygate_policy_failed_open_pods", policyLabels(failing))).Should(BeEquivalentTo(1))
		Expect(value("readygate_errors_total", policyLabels(failing, "kind", "evaluation"))()).To(BeNumerically(">=", 1))

		By("every readygate_ metric the scenario produced is in the catalogue")
		catalogue, err := os.ReadFile(filepath.Join("..", "docs", "metrics.md"))
		Expect(err).NotTo(HaveOccurred())
		families, err := metrics.Registry.Gather()
		Expect(err).NotTo(HaveOccurred())
		for _, f := range families {
			if strings.HasPrefix(f.GetName(), "readygate_") {
				Expect(string(catalogue)).To(ContainSubstring("`"+f.GetName()+"`"), "docs/metrics.md misses %s", f.GetName())
			}
		}

		By("a deleted policy's series go with it")
		for _, p := range []*v1alpha1.ReadinessGatePolicy{capped, younger, failing} {
			Expect(k8s.Delete(ctx, p)).To(Succeed())
		}
		for _, p := range []*v1alpha1.ReadinessGatePolicy{capped, younger, failing} {
			for _, name := range []string{"readygate_policy_pods", "readygate_policy_condition", "readygate_evaluations_total", "readygate_evaluation_duration_seconds"} {
				Eventually(func() bool { _, ok := sample(name, policyLabels(p))(); return ok }).Should(BeFalse(), "%s of %s", name, p.Name)
			}
		}
	})
})
