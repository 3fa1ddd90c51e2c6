package controllers_test

import (
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/readygate/readygate/api/v1alpha1"
	"github.com/readygate/readygate/internal/testenv"
)

// A tenant may strip its policy's finalizer and delete it: the policy goes
// at once, while the pod reconciles that read it a moment before are still
// writing its pods' flips. Their series must not outlive the policy: a
// tenant churning policy names over flapping pods would otherwise grow the
// operator's series, and every scrape of them, without bound.
var _ = Describe("a policy deleted while its pods' flips are being written", func() {
	It("leaves no series behind", func(ctx SpecContext) {
		const pods, churns = 30, 12
		ns := newNamespace(ctx)
		servers := make([]*testenv.PodServer, 0, pods)
		for i := range pods {
			servers = append(servers, podWithOwnPort(ctx, ns, fmt.Sprintf("flap-%d", i)))
		}
		flap(ctx, servers, 400*time.Millisecond)

		for i := range churns {
			p := newPolicy(ns, fmt.Sprintf("churn-%d", i), `http.statusCode == 200`, func(p *v1alpha1.ReadinessGatePolicy) {
				p.Spec.Sources = httpSource(intstr.FromString("http"), "/")
				p.Spec.MaxUnavailable = ptrTo(intstr.FromString("100%"))
			})
			Expect(k8s.Create(ctx, p)).To(Succeed())
			Eventually(value("readygate_gate_flips_total", policyLabels(p))).Should(BeNumerically(">=", pods/2))
			stripFinalizerAndDelete(ctx, p)
		}
		for i := range churns {
			p := &v1alpha1.ReadinessGatePolicy{}
			p.Namespace, p.Name = ns, fmt.Sprintf("churn-%d", i)
			for _, name := range []string{"readygate_gate_flips_total", "readygate_evaluations_total", "readygate_evaluation_duration_seconds"} {
				Eventually(func() bool { _, ok := sample(name, policyLabels(p))(); return ok }).Should(BeFalse(),
					"OPERATOR BUG: %s of the deleted policy %s was recorded again after it went", name, p.Name)
			}
		}
	})
})

// podWithOwnPort is podWithServer on a port of its own: other suites on the
// machine may hold 8080 on the same loopback addresses.
func podWithOwnPort(ctx SpecContext, ns, name string) *testenv.PodServer {
	ip := fmt.Sprintf("127.0.200.%d", nextLoopback.Add(1))
	srv, err := testenv.StartPodServer(ip, 0)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(srv.Close)
	_, port, err := net.SplitHostPort(srv.Addr)
	Expect(err).NotTo(HaveOccurred())
	number, err := strconv.Atoi(port)
	Expect(err).NotTo(HaveOccurred())
	createPods(ctx, ns, name, 1, withGates(warmGate), withAnnotation(testenv.AnnotationPodIP, ip), func(p *corev1.Pod) {
		p.Spec.Containers[0].Ports = []corev1.ContainerPort{{Name: "http", ContainerPort: int32(number)}}
	})
	return srv
}

// flap has the servers alternate 200 and 503 every period until the spec ends.
func flap(ctx SpecContext, servers []*testenv.PodServer, period time.Duration) {
	tick := time.NewTicker(period)
	DeferCleanup(tick.Stop)
	go func() {
		for ok := true; ; ok = !ok {
			status := http.StatusServiceUnavailable
			if ok {
				status = http.StatusOK
			}
			for _, srv := range servers {
				srv.Answer(status, "text/plain", http.StatusText(status))
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
}

// stripFinalizerAndDelete deletes the policy as a tenant may, without
// letting the operator release its pods: the policy goes at once. The
// operator adds its finalizer back when it sees the update, so the tenant
// tries until the delete wins.
func stripFinalizerAndDelete(ctx SpecContext, p *v1alpha1.ReadinessGatePolicy) {
	Eventually(func() error {
		got := &v1alpha1.ReadinessGatePolicy{}
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(p), got); err != nil {
			return client.IgnoreNotFound(err)
		}
		if got.DeletionTimestamp == nil {
			got.Finalizers = nil
			if err := k8s.Update(ctx, got); err != nil {
				return err
			}
			if err := k8s.Delete(ctx, got); err != nil {
				return err
			}
		} else {
			got.Finalizers = nil
			_ = k8s.Update(ctx, got)
		}
		return fmt.Errorf("policy %s still there", p.Name)
	}).Should(Succeed())
}
