package webhook_test

import (
	"context"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/readygate/readygate/internal/testenv"
)

// The policy webhook fails closed, so while the API server cannot reach it
// no policy's spec changes. Its metadata must still: the operator takes its
// finalizer off with an update, and a namespace being deleted waits for that.
// The pod injector fails open: pods are created without their gate. The
// API server counts both, and the alerts of config/prometheus/rules.yaml
// (ReadygatePolicyWebhookUnreachable, ReadygateInjectorFailingOpen) read
// these very series.
var _ = Describe("the webhooks, unreachable", Serial, func() {
	It("let metadata change, finalizers come off, and no spec change through; pods go ungated; the API server counts both", func(ctx SpecContext) {
		refused := "apiserver_admission_webhook_rejection_count"
		refusedLabels := []string{`name="validate.readygate.io"`, `error_type="calling_webhook_error"`}
		failedOpen := "apiserver_admission_webhook_fail_open_count"
		failedOpenLabels := []string{`name="inject.readygate.io"`}
		refused0, failedOpen0 := apiServerCount(ctx, refused, refusedLabels...), apiServerCount(ctx, failedOpen, failedOpenLabels...)

		ns := namespace(ctx, true)
		p := newPolicy(ns, "held", "true")
		controllerutil.AddFinalizer(p, "test.readygate.io/hold")
		Expect(k8s.Create(ctx, p)).To(Succeed())
		stopTheManager()
		DeferCleanup(startManager)
		// As the stopped operator left it (it may have added its finalizer).
		Expect(k8s.Get(ctx, client.ObjectKeyFromObject(p), p)).To(Succeed())

		By("a spec change is refused: nothing could validate it")
		suspended := p.DeepCopy()
		suspended.Spec.Suspend = true
		Expect(k8s.Update(ctx, suspended)).To(MatchError(ContainSubstring("failed calling webhook")))
		Expect(apiServerCount(ctx, refused, refusedLabels...)).To(BeNumerically(">", refused0))

		By("a label, then the finalizer, change without the webhook")
		labelled := p.DeepCopy()
		labelled.Labels = map[string]string{"team": "a"}
		Expect(k8s.Update(ctx, labelled)).To(Succeed())
		Expect(k8s.Delete(ctx, labelled)).To(Succeed())
		Expect(k8s.Get(ctx, client.ObjectKeyFromObject(p), labelled)).To(Succeed())
		controllerutil.RemoveFinalizer(labelled, "test.readygate.io/hold")
		Expect(k8s.Update(ctx, labelled)).To(Succeed())

		By("a pod is created without its gate")
		Expect(testenv.ReadinessGates(createPod(ctx, ns, "ungated", web, nil))).To(BeEmpty())
		Expect(apiServerCount(ctx, failedOpen, failedOpenLabels...)).To(BeNumerically(">", failedOpen0))
	})
})

// apiServerCount sums the API server's own series of metric with labels.
func apiServerCount(ctx context.Context, metric string, labels ...string) float64 {
	n, err := testenv.APIServerCount(ctx, cp.Config, metric, labels...)
	Expect(err).NotTo(HaveOccurred())
	return n
}
