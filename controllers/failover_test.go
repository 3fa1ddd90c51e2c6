package controllers_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/readygate/readygate/api/v1alpha1"
)

// A new leader shows the held count of the status while it learns which
// pods are held (the e2e spec "a restarted manager"), but not once an edit
// of the policy may have ended the holds: the status then describes
// another generation.
var _ = Describe("a new leader's held count", Serial, func() {
	var (
		pods []*corev1.Pod
		p    *v1alpha1.ReadinessGatePolicy
	)
	BeforeEach(func(ctx SpecContext) {
		ns := newNamespace(ctx)
		pods = createPods(ctx, ns, "web", 3, withGates(warmGate), withLabels("warm", "true"))
		p = newPolicy(ns, "held", "pod.metadata.labels['warm'] == 'true'", func(p *v1alpha1.ReadinessGatePolicy) {
			p.Spec.MaxUnavailable = ptrTo(intstr.FromInt32(0))
		})
		createAndSettle(ctx, p, pods, corev1.ConditionTrue)
		for _, pod := range pods {
			setWarm(ctx, pod, "false")
		}
		Eventually(policyStatus(ctx, p)).Should(HaveField("HeldPods", BeEquivalentTo(len(pods))))
		restartManager()
	})

	It("drops to 0 at once when the policy is suspended", func(ctx SpecContext) {
		updatePolicy(ctx, p, func(p *v1alpha1.ReadinessGatePolicy) { p.Spec.Suspend = true })
		Eventually(policyStatus(ctx, p), "3s").Should(And(HaveField("ObservedGeneration", Equal(p.Generation+1)), HaveField("HeldPods", BeEquivalentTo(0))),
			"a suspended policy holds nothing, yet heldPods kept the previous leader's count")
	})

	It("drops to 0 once the held pods recover after an edit, however long the edited policy's interval", func(ctx SpecContext) {
		updatePolicy(ctx, p, func(p *v1alpha1.ReadinessGatePolicy) { p.Spec.Interval.Duration = time.Hour })
		for _, pod := range pods {
			setWarm(ctx, pod, "true")
		}
		Eventually(policyStatus(ctx, p), "5s").Should(HaveField("HeldPods", BeEquivalentTo(0)),
			"every pod's expression is true again, yet heldPods kept the previous leader's count")
	})
})
