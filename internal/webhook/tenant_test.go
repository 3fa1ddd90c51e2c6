package webhook_test

import (
	"context"
	"fmt"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/readygate/readygate/internal/policy"
	"github.com/readygate/readygate/internal/testenv"
	"github.com/readygate/readygate/internal/webhook"
)

// crowdedPods is how many pods the tenant's new policy selects: a modest
// namespace, well within what a tenant may create.
const crowdedPods = 600

// createPodsAtOnce creates n pods labelled app=web, several at a time.
func createPodsAtOnce(ctx context.Context, ns string, n int) {
	var g errgroup.Group
	g.SetLimit(8)
	for i := range n {
		g.Go(func() error {
			return k8s.Create(ctx, &corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("web-%d", i), Namespace: ns, Labels: web},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "app:1"}}},
			})
		})
	}
	Expect(g.Wait()).To(Succeed())
}

// dryRunWarnings returns the warnings of a dry-run create of p, or its error.
func dryRunWarnings(ctx context.Context, p client.Object) func() []string {
	return func() []string {
		warnings.Take()
		if err := k8s.Create(ctx, p, client.DryRunAll); err != nil {
			return []string{err.Error()}
		}
		return warnings.Take()
	}
}

// The webhook server is shared by every namespace: the pod injector
// (failurePolicy Ignore, 3 s) answers there too, so an admission that one
// tenant can make cost seconds of CPU, again and again, makes other
// tenants' pods start without their gates.
var _ = Describe("a policy admitted beside the most conflicting policies a namespace may hold", Serial, func() {
	It("is validated within the webhook's timeout", func(ctx SpecContext) {
		stopTheManager()
		DeferCleanup(startManager)
		opts := suiteWebhooks()
		opts.MaxPoliciesPerNamespace = webhook.DefaultMaxPoliciesPerNamespace
		mgr, stop := runManager(cp.Config, ctrl.Options{WebhookServer: webhookServer()}, opts)
		DeferCleanup(stop)
		Eventually(func() error { return mgr.GetWebhookServer().StartedChecker()(nil) }).Should(Succeed())

		ns := namespace(ctx, false)
		createPodsAtOnce(ctx, ns, crowdedPods)
		for i := range webhook.DefaultMaxPoliciesPerNamespace - 1 {
			peer := newPolicy(ns, fmt.Sprintf("peer-%d", i), "true")
			peer.Spec.Selector = testenv.CappedSelector(policy.MaxSelectorRequirements, policy.MaxSelectorValues)
			Expect(k8s.Create(ctx, peer)).To(Succeed())
		}
		By("the webhook's cache holds every pod")
		probe := newPolicy(ns, "probe", "true")
		probe.Spec.ConditionType = "readygate.io/probe"
		Eventually(dryRunWarnings(ctx, probe)).Should(ContainElement(ContainSubstring("%d selected pods do not list", crowdedPods)))

		By("a policy of the peers' condition type that selects the pods")
		Expect(k8s.Create(ctx, newPolicy(ns, "last", "true"))).To(Succeed(),
			"the validator matched %d peers' selectors against %d pods, parsing each selector for each pod", webhook.DefaultMaxPoliciesPerNamespace-1, crowdedPods)
	})
})
