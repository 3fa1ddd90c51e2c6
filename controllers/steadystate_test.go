package controllers_test

import (
	"net/http"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/readygate/readygate/api/v1alpha1"
)

// These specs restart the shared manager, so they run alone.
var _ = Describe("steady state and restarts", Serial, func() {
	It("writes nothing when nothing changes, and nothing after a restart", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		pods := createPods(ctx, ns, "web", 6, withGates(warmGate))
		for _, p := range pods[:3] {
			setWarm(ctx, p, "true")
		}
		p := newPolicy(ns, "steady", "pod.metadata.labels.exists(k, k == 'warm')")
		Expect(k8s.Create(ctx, p)).To(Succeed())
		Eventually(policyStatus(ctx, p)).Should(And(HaveField("MatchedPods", BeEquivalentTo(6)), HaveField("ReadyPods", BeEquivalentTo(3))))
		for _, pod := range pods {
			Eventually(gateOf(ctx, pod)).ShouldNot(BeNil())
			Eventually(kubeletSettled(ctx, pod)).Should(BeTrue())
		}
		// The status's last write of the rollout follows the last gate by a
		// recount; a baseline taken before it would see that write as spurious.
		Eventually(policyCondition(ctx, p, v1alpha1.ConditionReconciling)).Should(HaveField("Reason", v1alpha1.ReasonAllPodsEvaluated))

		By("several intervals of periodic re-evaluation write nothing")
		rvs := resourceVersions(ctx, pods)()
		policyRV := func() string {
			got := &v1alpha1.ReadinessGatePolicy{}
			_ = k8s.Get(ctx, client.ObjectKeyFromObject(p), got)
			return got.ResourceVersion
		}
		before := policyRV()
		Consistently(resourceVersions(ctx, pods), "3500ms", "250ms").Should(Equal(rvs))
		Expect(policyRV()).To(Equal(before))

		By("a restarted operator resumes from the cluster alone, with no spurious writes")
		restartManager()
		Consistently(resourceVersions(ctx, pods), "3500ms", "250ms").Should(Equal(rvs))
		Expect(policyRV()).To(Equal(before))

		By("and still acts on changes")
		setWarm(ctx, pods[3], "true")
		Eventually(statusOf(ctx, pods[3])).Should(Equal(corev1.ConditionTrue))
		Eventually(policyStatus(ctx, p)).Should(HaveField("ReadyPods", BeEquivalentTo(4)))
	})

	It("releases a pod relabelled out of a Release policy deleted while the operator was down", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		pods := createPods(ctx, ns, "web", 2, withGates(warmGate))
		p := settledFalseWithFinalizer(ctx, newPolicy(ns, "quarantine", "false"), pods)

		By("the pod leaves the policy and the policy is deleted while no operator runs")
		stopManager()
		<-managerExited
		updatePod(ctx, pods[0], func(pod *corev1.Pod) { pod.Labels["app"] = "quarantined" })
		Expect(k8s.Delete(ctx, p)).To(Succeed())
		startManager()

		for _, pod := range pods {
			Eventually(gateOf(ctx, pod)).Should(And(HaveField("Status", corev1.ConditionTrue), HaveField("Reason", v1alpha1.ReasonPolicyDeleted)),
				"pod %s: its False was the deleted policy's, and no policy is left to decide it", pod.Name)
		}
		Eventually(func() error { return k8s.Get(ctx, client.ObjectKeyFromObject(p), &v1alpha1.ReadinessGatePolicy{}) }).Should(MatchError(ContainSubstring("not found")))
	})

	It("never has more than maxUnavailable pods False at once, across an operator restart", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		pods := createPods(ctx, ns, "web", 10, withGates(warmGate), withLabels("warm", "true"))
		p := newPolicy(ns, "cap", "pod.metadata.labels['warm'] == 'true'", func(p *v1alpha1.ReadinessGatePolicy) {
			p.Spec.MaxUnavailable = ptrTo(intstr.FromInt32(2))
		})
		createAndSettle(ctx, p, pods, corev1.ConditionTrue)
		Eventually(policyStatus(ctx, p)).Should(HaveField("ReadyPods", BeEquivalentTo(10)))
		mostFalse := watchMostFalse(ctx, ns)

		By("the expression turns false on every pod")
		for _, pod := range pods {
			setWarm(ctx, pod, "false")
		}
		Eventually(falseCount(ctx, pods)).Should(Equal(2))
		Eventually(policyStatus(ctx, p)).Should(HaveField("HeldPods", BeEquivalentTo(8)))
		held := firstWithStatus(ctx, pods, corev1.ConditionTrue)
		Eventually(eventReasons(ctx, ns, held.Name)).Should(ContainElement(v1alpha1.ReasonFlipDeferred))
		Consistently(falseCount(ctx, pods), "3s").Should(Equal(2))

		By("a restarted operator counts the cap from the cluster")
		restartManager()
		Consistently(falseCount(ctx, pods), "3s").Should(Equal(2))

		By("a pod that turns True again makes room for exactly one more")
		setWarm(ctx, firstWithStatus(ctx, pods, corev1.ConditionFalse), "true")
		Eventually(falseCount(ctx, pods)).Should(Equal(2))
		Eventually(policyStatus(ctx, p)).Should(HaveField("HeldPods", BeEquivalentTo(7)))
		Consistently(falseCount(ctx, pods), "2s").Should(Equal(2))
		Expect(mostFalse()).To(Equal(2), "never more than maxUnavailable pods False at once")
	})
})

var _ = Describe("an administrator's source rules", Serial, func() {
	It("hold the True gates of pods whose IPs a new --source-deny-cidrs refuses, as an error that says nothing about the pod", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		pod, srv := podWithServer(ctx, ns, "web")
		srv.Answer(http.StatusOK, "text/plain", "ok")
		p := newPolicy(ns, "denied", `http.statusCode == 200`, func(p *v1alpha1.ReadinessGatePolicy) {
			p.Spec.Sources = httpSource(intstr.FromString("http"), "/ready")
		})
		createAndSettle(ctx, p, []*corev1.Pod{pod}, corev1.ConditionTrue)

		By("the operator restarts with a deny list that holds the pods' network")
		DeferCleanup(restartDenying, "")
		restartDenying("127.0.0.0/8")
		Consistently(statusOf(ctx, pod), "4s").Should(Equal(corev1.ConditionTrue),
			"failureThreshold is 1 and the interval 1s: readygate's own configuration is no verdict on the pod")
		Eventually(policyStatus(ctx, p)).Should(HaveField("StaleDataPods", BeEquivalentTo(1)))
	})
})
