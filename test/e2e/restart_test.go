package e2e_test

import (
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/readygate/readygate/api/v1alpha1"
	"github.com/readygate/readygate/internal/gate"
	"github.com/readygate/readygate/internal/policy"
	"github.com/readygate/readygate/internal/testenv"
)

// Which pods maxUnavailable holds lives in the leader's memory: a new
// leader learns it again only as the pods fail failureThreshold times. Until
// then its status must not read as if nothing were held, which would tell
// a paged SRE that the rollout is unblocked and restart the alert's clock.
var _ = Describe("a restarted manager", func() {
	It("keeps reporting the pods maxUnavailable holds while it learns them again", func(ctx SpecContext) {
		const ns, pods = "restart-held", 3
		createFaultNamespace(ctx, ns)
		for i := range pods {
			Expect(createGatedPod(ctx, ns, fmt.Sprintf("pod-%d", i), "held", true)).To(Succeed())
		}
		none := intstr.FromInt32(0)
		p := hostilePolicy(ns, "held", promotedExpression, func(p *v1alpha1.ReadinessGatePolicy) {
			p.Spec.MaxUnavailable, p.Spec.FailureThreshold = &none, 3
		})
		Expect(k8s.Create(ctx, p)).To(Succeed())
		Eventually(gatesMatch(ctx, ns)).Should(Succeed())
		for i := range pods {
			Expect(setPromoted(ctx, ns, fmt.Sprintf("pod-%d", i), "no")).To(Succeed())
		}
		Eventually(heldPods(ctx, p)).Should(BeEquivalentTo(pods))

		By("restarting the manager")
		testenv.StopProcess(manager, 10*time.Second)
		startSuiteManager()
		warmUp, _ := policy.CarryWindows(gate.Thresholds{Failure: p.Spec.FailureThreshold, Interval: p.Spec.Interval.Duration})
		Consistently(heldPods(ctx, p)).WithTimeout(warmUp+followMargin).WithPolling(100*time.Millisecond).Should(BeEquivalentTo(pods),
			"OPERATOR BUG: the new manager reported fewer held pods while they were all held")
	})
})

// heldPods is the policy's status.heldPods.
func heldPods(ctx SpecContext, p *v1alpha1.ReadinessGatePolicy) func() (int32, error) {
	return func() (int32, error) {
		got := &v1alpha1.ReadinessGatePolicy{}
		err := k8s.Get(ctx, client.ObjectKeyFromObject(p), got)
		return got.Status.HeldPods, err
	}
}
