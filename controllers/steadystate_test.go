package controllers_test

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

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
			Eventually(conditionOf(ctx, pod, string(corev1.PodReady))).Should(HaveField("Status", Equal(statusOf(ctx, pod)())))
		}

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

	It("flips at most maxUnavailable gates from True to False per interval", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		pods := createPods(ctx, ns, "web", 4, withGates(warmGate), withLabels("warm", "true"))
		p := newPolicy(ns, "budget", "pod.metadata.labels['warm'] == 'true'", func(p *v1alpha1.ReadinessGatePolicy) {
			p.Spec.MaxUnavailable = ptrTo(intstr.FromInt32(1))
			p.Spec.Interval = &metav1.Duration{Duration: 3 * time.Second}
		})
		Expect(k8s.Create(ctx, p)).To(Succeed())
		Eventually(policyStatus(ctx, p)).Should(HaveField("ReadyPods", BeEquivalentTo(4)))

		for _, pod := range pods {
			setWarm(ctx, pod, "false")
		}
		falseCount := func() int {
			n := 0
			for _, pod := range pods {
				if statusOf(ctx, pod)() == corev1.ConditionFalse {
					n++
				}
			}
			return n
		}
		Eventually(falseCount).Should(Equal(1))
		Consistently(falseCount, "2s").Should(Equal(1))
		Eventually(eventReasons(ctx, ns, pods[0].Name)).Should(Or(ContainElement("FlipDeferred"), ContainElement("GateFlipped")))
		Eventually(falseCount, "20s").Should(Equal(4))
	})
})
