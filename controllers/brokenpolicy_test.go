package controllers_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/readygate/readygate/api/v1alpha1"
)

// A stored policy stops compiling from outside its author's hands (an
// administrator narrows --prometheus-allowed-urls, an upgrade prunes a
// field; here an edit no webhook checked). Its pods must fare as under a
// source outage: a pod out of traffic is not let in, a pod in traffic is
// not taken out, and a new pod fails open after failOpenAfter rather than
// waiting for the policy's author.
var _ = Describe("a policy that stops compiling", func() {
	It("holds its gates as errors, and fails new pods open after failOpenAfter", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		pods := createPods(ctx, ns, "web", 2, withGates(warmGate))
		setWarm(ctx, pods[0], "true")
		p := newPolicy(ns, "breaks", "pod.metadata.labels.?warm.orValue('') == 'true'", func(p *v1alpha1.ReadinessGatePolicy) {
			p.Spec.FailOpenAfter = &metav1.Duration{Duration: 10 * time.Second}
		})
		Expect(k8s.Create(ctx, p)).To(Succeed())
		Eventually(statusOf(ctx, pods[0])).Should(Equal(corev1.ConditionTrue))
		Eventually(statusOf(ctx, pods[1])).Should(Equal(corev1.ConditionFalse))

		updatePolicy(ctx, p, func(p *v1alpha1.ReadinessGatePolicy) { p.Spec.Expression = "pod.metadata.name ==" })
		Eventually(policyCondition(ctx, p, v1alpha1.ConditionAccepted)).Should(HaveField("Reason", v1alpha1.ReasonInvalidExpression))
		Eventually(gateOf(ctx, pods[1])).Should(And(HaveField("Status", corev1.ConditionFalse), HaveField("Reason", v1alpha1.ReasonEvaluationError),
			HaveField("Message", ContainSubstring("Syntax error"))), "OPERATOR BUG: a pod out of traffic was let in because its policy broke")
		Expect(statusOf(ctx, pods[0])()).To(Equal(corev1.ConditionTrue))

		fresh := createPods(ctx, ns, "fresh", 1, withGates(warmGate))[0]
		Eventually(gateOf(ctx, fresh)).Should(HaveField("Reason", v1alpha1.ReasonEvaluationError),
			"OPERATOR BUG: a new pod of a broken policy got no condition saying why it is not ready")
		Eventually(gateOf(ctx, fresh)).Should(And(HaveField("Status", corev1.ConditionTrue), HaveField("Reason", v1alpha1.ReasonTimedOut)),
			"OPERATOR BUG: a new pod of a broken policy did not fail open")
		Consistently(statusOf(ctx, pods[0]), "1s").Should(Equal(corev1.ConditionTrue))
	})
})
