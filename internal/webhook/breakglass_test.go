package webhook_test

import (
	"context"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/readygate/readygate/api/v1alpha1"
)

// A stored policy stops compiling from outside its author's hands (an
// upgrade pruned its queries, an administrator's flag changed, or it was
// written where no webhook was in the path), and then holds its pods'
// gates False until failOpenAfter, forever without one. suspend and
// DryRun are the break-glass switches out of that: refusing them because
// the rest of the spec does not compile leaves deletion, which loses the
// policy and, with onDelete: Retain, releases nothing.
var _ = Describe("a stored policy that does not compile", Serial, func() {
	It("can still be suspended or switched to DryRun", func(ctx SpecContext) {
		ns := namespace(ctx, false)
		p := newPolicy(ns, "broken", "pod.metadata.name ==")
		withoutPolicyValidation(ctx, ns, func() { Expect(k8s.Create(ctx, p)).To(Succeed()) })

		suspend := func(p *v1alpha1.ReadinessGatePolicy) { p.Spec.Suspend = true }
		dryRun := func(p *v1alpha1.ReadinessGatePolicy) { p.Spec.Mode = v1alpha1.ModeDryRun }
		for _, change := range []func(*v1alpha1.ReadinessGatePolicy){suspend, dryRun} {
			Eventually(func() error {
				got := &v1alpha1.ReadinessGatePolicy{}
				if err := k8s.Get(ctx, client.ObjectKeyFromObject(p), got); err != nil {
					return err
				}
				change(got)
				return k8s.Update(ctx, got)
			}).Should(Succeed(), "OPERATOR BUG: the break-glass switch of a broken policy holding its pods False was refused")
		}

		By("anything else still has to compile")
		Eventually(func() error {
			got := &v1alpha1.ReadinessGatePolicy{}
			if err := k8s.Get(ctx, client.ObjectKeyFromObject(p), got); err != nil {
				return err
			}
			got.Spec.FailureThreshold = 5
			return k8s.Update(ctx, got)
		}).Should(MatchError(ContainSubstring("spec.expression")))
	})
})

// withoutPolicyValidation runs f while the API server does not call the
// policy webhook, as where it is not installed.
func withoutPolicyValidation(ctx context.Context, ns string, f func()) {
	vwc := &admissionregistrationv1.ValidatingWebhookConfiguration{}
	Expect(k8s.Get(ctx, client.ObjectKey{Name: "validating-webhook-configuration"}, vwc)).To(Succeed())
	installed := vwc.DeepCopy()
	for i := range vwc.Webhooks {
		vwc.Webhooks[i].MatchConditions = append(vwc.Webhooks[i].MatchConditions,
			admissionregistrationv1.MatchCondition{Name: "off", Expression: "false"})
	}
	Expect(k8s.Update(ctx, vwc)).To(Succeed())
	// A policy that does not compile is what the webhook refuses.
	badCreate := func() error { return k8s.Create(ctx, newPolicy(ns, "probe", "pod.metadata.name =="), client.DryRunAll) }
	defer func() {
		Expect(k8s.Get(ctx, client.ObjectKeyFromObject(installed), vwc)).To(Succeed())
		vwc.Webhooks = installed.Webhooks
		Expect(k8s.Update(ctx, vwc)).To(Succeed())
		Eventually(badCreate).Should(MatchError(ContainSubstring("spec.expression")))
	}()
	Eventually(badCreate).Should(Succeed())
	f()
}
