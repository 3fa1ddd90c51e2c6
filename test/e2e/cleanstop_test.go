package e2e_test

import (
	"crypto/tls"
	"fmt"
	"os"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	coordinationv1 "k8s.io/api/coordination/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/readygate/readygate/controllers"
)

// afterPreStop is what the deployment's grace period leaves a stopping
// replica after its preStop sleep: terminationGracePeriodSeconds 15 less 5.
const afterPreStop = 10 * time.Second

// A leader that stops (a rollout, a drain) releases its lease before the
// kubelet's SIGKILL, even when work under way does not end by itself: here
// an admission request whose body never comes, which the webhook server
// would wait a minute for. The standby then takes over at once instead of
// waiting out the lease, the gates standing still.
var _ = Describe("a stopping leader", func() {
	It("releases its lease within its grace period while an admission request hangs", func(ctx SpecContext) {
		createOperatorNamespace(ctx)
		_, certDir := writeWebhookCert()
		r := startReplica(certDir)
		Eventually(r.leading).WithTimeout(leaseDuration + followMargin).Should(BeTrue())
		hangAdmissionRequest(r.webhookAddr)
		// Once the injector reads the body: a connection whose request the
		// server has not begun is closed at once on shutdown, and the spec
		// would not tell a 30 s shutdown timeout from a 7 s one.
		Eventually(func() (float64, error) {
			return scrape("http://"+r.metricsAddr+"/metrics", "controller_runtime_webhook_requests_in_flight", `webhook="/mutate-v1-pod"`)
		}).Should(BeEquivalentTo(1))

		stopped := time.Now()
		Expect(r.cmd.Process.Signal(os.Interrupt)).To(Succeed())
		Eventually(r.done).WithTimeout(afterPreStop).Should(BeClosed(),
			"OPERATOR BUG: the stopping leader still ran when the kubelet would have killed it, its lease not released")
		lease := &coordinationv1.Lease{}
		Expect(k8s.Get(ctx, client.ObjectKey{Namespace: operatorNamespace, Name: controllers.LeaderElectionID}, lease)).To(Succeed())
		Expect(ptr.Deref(lease.Spec.HolderIdentity, "")).To(BeEmpty(),
			"OPERATOR BUG: the stopped leader left its lease held: the standby waits it out")
		report := fmt.Sprintf("leader stopped with an admission request hanging: exited, lease released, %s after the signal",
			time.Since(stopped).Round(time.Millisecond))
		AddReportEntry("clean stop", report)
		GinkgoWriter.Println(report)
	})
})

// hangAdmissionRequest sends the replica's injector the headers of a
// review whose body never comes, until the spec ends.
func hangAdmissionRequest(addr string) {
	conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // the spec's own self-signed webhook on loopback
	Expect(err).NotTo(HaveOccurred())
	// The stopped replica resets the connection: closing it fails.
	DeferCleanup(func() { _ = conn.Close() })
	_, err = fmt.Fprintf(conn, "POST /mutate-v1-pod HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{", addr)
	Expect(err).NotTo(HaveOccurred())
}
