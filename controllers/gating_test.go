package controllers_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/readygate/readygate/api/v1alpha1"
)

var _ = Describe("gating pods on pod data", func() {
	It("gates many pods, flips them both ways and reports progress", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		pods := createPods(ctx, ns, "web", 20, withGates(warmGate))
		for _, p := range pods[:10] {
			setWarm(ctx, p, "true")
		}
		p := newPolicy(ns, "warm", "has(pod.metadata.labels.warm) && pod.metadata.labels.warm == 'true'")
		Expect(k8s.Create(ctx, p)).To(Succeed())

		for _, pod := range pods[:10] {
			Eventually(gateOf(ctx, pod)).Should(And(HaveField("Status", corev1.ConditionTrue), HaveField("Reason", v1alpha1.ReasonExpressionTrue)))
			Eventually(conditionOf(ctx, pod, string(corev1.PodReady))).Should(HaveField("Status", corev1.ConditionTrue))
		}
		for _, pod := range pods[10:] {
			Eventually(gateOf(ctx, pod)).Should(And(HaveField("Status", corev1.ConditionFalse), HaveField("Reason", v1alpha1.ReasonExpressionFalse)))
			Expect(conditionOf(ctx, pod, string(corev1.PodReady))()).To(HaveField("Status", corev1.ConditionFalse))
		}
		Eventually(policyStatus(ctx, p)).Should(And(
			HaveField("MatchedPods", BeEquivalentTo(20)),
			HaveField("ReadyPods", BeEquivalentTo(10)),
			HaveField("ObservedGeneration", BeEquivalentTo(1)),
		))
		Expect(policyCondition(ctx, p, v1alpha1.ConditionAccepted)()).To(HaveField("Status", metav1.ConditionTrue))
		Expect(policyCondition(ctx, p, v1alpha1.ConditionProgressing)()).To(HaveField("Status", metav1.ConditionTrue))
		Expect(policyCondition(ctx, p, v1alpha1.ConditionReady)()).To(HaveField("Status", metav1.ConditionFalse))

		By("flipping a pod to True")
		setWarm(ctx, pods[10], "true")
		Eventually(statusOf(ctx, pods[10])).Should(Equal(corev1.ConditionTrue))
		Eventually(eventReasons(ctx, ns, pods[10].Name)).Should(ContainElement("GateFlipped"))

		By("flipping a pod back to False")
		before, err := gateOf(ctx, pods[0])()
		Expect(err).NotTo(HaveOccurred())
		Expect(before).To(HaveField("Status", corev1.ConditionTrue))
		// lastTransitionTime has a resolution of a second: let one pass, so
		// that a flip must move it.
		Eventually(time.Now).Should(BeTemporally(">", before.LastTransitionTime.Add(time.Second)))
		setWarm(ctx, pods[0], "false")
		Eventually(statusOf(ctx, pods[0])).Should(Equal(corev1.ConditionFalse))
		after, err := gateOf(ctx, pods[0])()
		Expect(err).NotTo(HaveOccurred())
		Expect(after.LastTransitionTime.Time).To(BeTemporally(">", before.LastTransitionTime.Time))

		By("making every pod True")
		for _, pod := range pods {
			setWarm(ctx, pod, "true")
		}
		Eventually(policyCondition(ctx, p, v1alpha1.ConditionReady)).Should(HaveField("Status", metav1.ConditionTrue))
		Expect(policyCondition(ctx, p, v1alpha1.ConditionProgressing)()).To(HaveField("Status", metav1.ConditionFalse))
		Expect(policyStatus(ctx, p)()).To(HaveField("ReadyPods", BeEquivalentTo(20)))
	})

	It("uses variables and messageExpression", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		pods := createPods(ctx, ns, "web", 1, withGates(warmGate), withLabels("tier", "gold"))
		p := newPolicy(ns, "vars", "variables.gold", func(p *v1alpha1.ReadinessGatePolicy) {
			p.Spec.Variables = []v1alpha1.Variable{{Name: "gold", Expression: "pod.metadata.labels['tier'] == 'gold'"}}
			p.Spec.MessageExpression = "'tier is ' + pod.metadata.labels['tier']"
		})
		Expect(k8s.Create(ctx, p)).To(Succeed())
		Eventually(gateOf(ctx, pods[0])).Should(And(HaveField("Status", corev1.ConditionTrue), HaveField("Message", "tier is gold")))
	})

	It("touches only its own condition and leaves the others alone", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		pods := createPods(ctx, ns, "web", 1, withGates(warmGate, "example.com/other"))
		other := corev1.PodCondition{Type: "example.com/other", Status: corev1.ConditionTrue, Reason: "SetByTest", LastTransitionTime: metav1.Now()}
		patch := []byte(`{"status":{"conditions":[{"type":"example.com/other","status":"True","reason":"SetByTest","lastTransitionTime":"` + other.LastTransitionTime.UTC().Format(time.RFC3339) + `"}]}}`)
		Expect(k8s.Status().Patch(ctx, pods[0], client.RawPatch(types.StrategicMergePatchType, patch))).To(Succeed())

		Expect(k8s.Create(ctx, newPolicy(ns, "own", "true"))).To(Succeed())
		Eventually(statusOf(ctx, pods[0])).Should(Equal(corev1.ConditionTrue))
		Expect(conditionOf(ctx, pods[0], "example.com/other")()).To(And(HaveField("Status", corev1.ConditionTrue), HaveField("Reason", "SetByTest")))
		Eventually(conditionOf(ctx, pods[0], string(corev1.PodReady))).Should(HaveField("Status", corev1.ConditionTrue))
	})

	It("never touches pods of another namespace", func(ctx SpecContext) {
		mine, theirs := newNamespace(ctx), newNamespace(ctx)
		myPods := createPods(ctx, mine, "web", 2, withGates(warmGate))
		theirPods := createPods(ctx, theirs, "web", 2, withGates(warmGate))
		p := newPolicy(mine, "tenant", "true")
		Expect(k8s.Create(ctx, p)).To(Succeed())
		for _, pod := range myPods {
			Eventually(statusOf(ctx, pod)).Should(Equal(corev1.ConditionTrue))
		}
		Eventually(policyStatus(ctx, p)).Should(HaveField("MatchedPods", BeEquivalentTo(2)))
		for _, pod := range theirPods {
			Consistently(gateOf(ctx, pod), "2s").Should(BeNil())
		}
	})

	It("counts pods without the gate, tells them so, and writes nothing on them", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		gated := createPods(ctx, ns, "gated", 2, withGates(warmGate))
		ungated := createPods(ctx, ns, "ungated", 3)
		p := newPolicy(ns, "missing", "true")
		Expect(k8s.Create(ctx, p)).To(Succeed())
		Eventually(policyStatus(ctx, p)).Should(And(
			HaveField("MatchedPods", BeEquivalentTo(2)),
			HaveField("ReadyPods", BeEquivalentTo(2)),
			HaveField("MissingGatePods", BeEquivalentTo(3)),
		))
		Expect(policyCondition(ctx, p, v1alpha1.ConditionReady)()).To(HaveField("Message", ContainSubstring("3 selected pods do not list readygate.io/warm")))
		Eventually(eventReasons(ctx, ns, ungated[0].Name)).Should(ContainElement("MissingReadinessGate"))
		for _, pod := range ungated {
			Expect(gateOf(ctx, pod)()).To(BeNil())
		}
		Expect(statusOf(ctx, gated[0])()).To(Equal(corev1.ConditionTrue))
	})

	// Pods that declare no gate enter the work queue only while a policy
	// selects them: the ones a policy selects only once they exist, by
	// their creation or a new label, must still be told.
	It("tells pods without the gate that come under a policy after it", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		p := newPolicy(ns, "missing", "true")
		Expect(k8s.Create(ctx, p)).To(Succeed())
		Eventually(policyCondition(ctx, p, v1alpha1.ConditionAccepted)).Should(HaveField("Status", metav1.ConditionTrue))
		created := createPods(ctx, ns, "created", 1)[0]
		relabelled := createPods(ctx, ns, "relabelled", 1, withLabels("app", "db"))[0]
		Eventually(eventReasons(ctx, ns, created.Name)).Should(ContainElement("MissingReadinessGate"))
		Eventually(policyStatus(ctx, p)).Should(HaveField("MissingGatePods", BeEquivalentTo(1)))
		updatePod(ctx, relabelled, func(pod *corev1.Pod) { pod.Labels["app"] = "web" })
		Eventually(eventReasons(ctx, ns, relabelled.Name)).Should(ContainElement("MissingReadinessGate"))
		Eventually(policyStatus(ctx, p)).Should(HaveField("MissingGatePods", BeEquivalentTo(2)))
	})
})
