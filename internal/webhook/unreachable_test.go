package webhook_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
)

// The policy webhook fails closed, so while the API server cannot reach it
// no policy's spec changes. Its metadata must still: the operator takes its
// finalizer off with an update, and a namespace being deleted waits for that.
var _ = Describe("the policy webhook, unreachable", Serial, func() {
	It("lets metadata change, finalizers come off, and no spec change through", func(ctx SpecContext) {
		ns := namespace(ctx, false)
		p := newPolicy(ns, "held", "true")
		controllerutil.AddFinalizer(p, "test.readygate.io/hold")
		Expect(k8s.Create(ctx, p)).To(Succeed())
		stopTheManager()
		DeferCleanup(startManager)

		By("a spec change is refused: nothing could validate it")
		suspended := p.DeepCopy()
		suspended.Spec.Suspend = true
		Expect(k8s.Update(ctx, suspended)).To(MatchError(ContainSubstring("failed calling webhook")))

		By("a label, then the finalizer, change without the webhook")
		labelled := p.DeepCopy()
		labelled.Labels = map[string]string{"team": "a"}
		Expect(k8s.Update(ctx, labelled)).To(Succeed())
		Expect(k8s.Delete(ctx, labelled)).To(Succeed())
		Expect(k8s.Get(ctx, client.ObjectKeyFromObject(p), labelled)).To(Succeed())
		controllerutil.RemoveFinalizer(labelled, "test.readygate.io/hold")
		Expect(k8s.Update(ctx, labelled)).To(Succeed())
	})
})
