package webhook_test

import (
	"net/http"
	"strings"
	"sync/atomic"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/readygate/readygate/internal/testenv"
)

// policyLists counts, in count, the requests for the collection of policies
// (a list, or a watch that streams the list) made through next, one of the
// transports of a manager's clients.
type policyLists struct {
	next  http.RoundTripper
	count *atomic.Int64
}

func (p policyLists) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method == http.MethodGet && strings.HasSuffix(req.URL.Path, "/readinessgatepolicies") {
		p.count.Add(1)
	}
	return p.next.RoundTrip(req)
}

// Issue 14: every replica serves the webhooks, and the leader is the only
// one that reconciles, so the injector on a standby must have all it reads
// (namespaces, policies and their Accepted condition) from its own cache.
var _ = Describe("a replica that is not the leader", Serial, func() {
	It("injects gates from its own cache, synced before it serves", func(ctx SpecContext) {
		stopTheManager()
		DeferCleanup(startManager)
		election := ctrl.Options{LeaderElection: true, LeaderElectionID: "standby-" + rand.String(6), LeaderElectionNamespace: "default"}

		By("a leader, without webhooks, accepts the policies")
		leader, stopLeader := runManager(cp.Config, election, nil)
		DeferCleanup(stopLeader)
		Eventually(leader.Elected()).Should(BeClosed())

		By("a standby serves the webhooks the API server calls")
		var lists atomic.Int64
		cfg := rest.CopyConfig(cp.Config)
		cfg.Wrap(func(next http.RoundTripper) http.RoundTripper { return policyLists{next: next, count: &lists} })
		standbyOpts := election
		standbyOpts.WebhookServer = webhookServer()
		standby, stopStandby := runManager(cfg, standbyOpts, suiteWebhooks())
		DeferCleanup(stopStandby)
		Eventually(func() error { return standby.GetWebhookServer().StartedChecker()(nil) }).Should(Succeed())
		Expect(standby.GetCache().WaitForCacheSync(ctx)).To(BeTrue())
		Expect(lists.Load()).To(BeNumerically(">", 0),
			"the standby's caches synced without the policies: its first admission would wait for a full list within the webhook's timeout")

		ns := namespace(ctx, true)
		acceptedPolicy(ctx, newPolicy(ns, "warm", "true"))
		waitUntilInjecting(ctx, ns, gateType)
		Expect(testenv.ReadinessGates(createPod(ctx, ns, "on-standby", web, nil))).To(ConsistOf(gateType))
		Expect(standby.Elected()).NotTo(BeClosed(), "the standby took the lease: the injection proves nothing about standbys")
	})
})
