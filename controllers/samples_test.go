package controllers_test

import (
	"os"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/readygate/readygate/api/v1alpha1"
)

var _ = Describe("pod fields typed from the cluster's schema", func() {
	It("reads timestamps as timestamps and quantities as strings", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		pods := createPods(ctx, ns, "web", 1, withGates(warmGate), func(p *corev1.Pod) {
			p.Spec.Containers[0].Resources.Limits = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("512Mi")}
		})
		Eventually(conditionOf(ctx, pods[0], string(corev1.ContainersReady))).Should(HaveField("Status", corev1.ConditionTrue))
		p := newPolicy(ns, "typed", `
			pod.status.conditions.exists(c, c.type == 'ContainersReady' && now - c.lastTransitionTime >= duration('0s')) &&
			pod.spec.containers.all(c, quantity(c.resources.limits['memory']).isGreaterThan(quantity('256Mi'))) &&
			pod.metadata.creationTimestamp < now`)
		Expect(k8s.Create(ctx, p)).To(Succeed())
		Eventually(reasonAndMessage(ctx, pods[0])).Should(Equal("True ExpressionTrue: the expression is true"))
	})

	// The cache keeps of a gated pod only what decisions read, and its whole
	// spec and status encoded: an expression reads them all, as they change.
	It("reads the spec and status the cache keeps encoded, as they change", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		pods := createPods(ctx, ns, "web", 1, withGates(warmGate))
		p := newPolicy(ns, "whole", `
			pod.status.conditions.exists(c, c.type == 'PodScheduled' && c.status == 'True') &&
			pod.status.containerStatuses.size() == 1 &&
			pod.spec.containers[0].image == 'app:2'`)
		p.Spec.MessageExpression = `'image ' + pod.spec.containers[0].image`
		Expect(k8s.Create(ctx, p)).To(Succeed())
		Eventually(reasonAndMessage(ctx, pods[0])).Should(Equal("False ExpressionFalse: image app:1"))

		updatePod(ctx, pods[0], func(pod *corev1.Pod) { pod.Spec.Containers[0].Image = "app:2" })
		Eventually(reasonAndMessage(ctx, pods[0])).Should(Equal("True ExpressionTrue: image app:2"))
	})
})

// A fresh operator's cache fills from its first list: the bodies of pods
// that have not changed since must be whole, so the first verdict on them
// is right. (A watch list transforms its items twice, which
// TestTrimTwiceKeepsTheWholeBody covers; this control plane's list did not
// show it.)
var _ = Describe("a restarted operator", Serial, func() {
	It("reads the whole spec and status of pods that have not changed since it started", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		pods := createPods(ctx, ns, "web", 1, withGates(warmGate))
		Eventually(conditionOf(ctx, pods[0], string(corev1.ContainersReady))).Should(HaveField("Status", corev1.ConditionTrue))
		restartManager()
		p := newPolicy(ns, "whole", `pod.status.containerStatuses.size() == 1 && pod.spec.containers[0].image == 'app:1'`)
		p.Spec.MessageExpression = `'image ' + pod.spec.containers[0].image + ', ' + string(pod.status.containerStatuses.size()) + ' container statuses'`
		Expect(k8s.Create(ctx, p)).To(Succeed())
		Eventually(reasonAndMessage(ctx, pods[0])).Should(Equal("True ExpressionTrue: image app:1, 1 container statuses"))
		// A trimmed body would be corrected by the pod's next change, the
		// operator's own write of a wrong verdict: only the count shows it.
		Expect(value("readygate_evaluations_total", policyLabels(p, "result", "false"))()).To(BeZero(),
			"an evaluation read a body without the pod's image or container statuses")
	})
})

var _ = Describe("config/samples", func() {
	files, err := filepath.Glob(filepath.Join("..", "config", "samples", "readygate_*.yaml"))
	if err != nil || len(files) == 0 {
		panic("no sample policies found")
	}
	for _, file := range files {
		It("compiles "+filepath.Base(file), func(ctx SpecContext) {
			data, err := os.ReadFile(file)
			Expect(err).NotTo(HaveOccurred())
			p := &v1alpha1.ReadinessGatePolicy{}
			Expect(yaml.UnmarshalStrict(data, p)).To(Succeed())
			p.Namespace = newNamespace(ctx)
			Expect(k8s.Create(ctx, p)).To(Succeed())
			Eventually(policyCondition(ctx, p, v1alpha1.ConditionAccepted)).Should(And(
				HaveField("Status", metav1.ConditionTrue), HaveField("ObservedGeneration", p.Generation)))
		})
	}
})
