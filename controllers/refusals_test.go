package controllers_test

import (
	"context"
	"fmt"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/readygate/readygate/api/v1alpha1"
	"github.com/readygate/readygate/internal/testenv"
)

// An administrator's admission policy refuses the operator's pod condition
// writes in a namespace (a 4xx, as a missing RBAC rule or an invalid write
// would). Each pod's polled endpoint fails every interval, and each failure
// evaluates the pod again, bypassing the work queue's backoff: were each
// refusal a reconcile error, every pod would log "Reconciler error" and
// send a refused write every interval.
var _ = Describe("pod condition writes the API server refuses", func() {
	It("are retried with a backoff per pod, and are no reconcile error each", func(ctx SpecContext) {
		const n = 50
		ns := newNamespace(ctx)
		// Nothing listens on the pods' IP: every fetch fails.
		pods := createPods(ctx, ns, "web", n, withGates(warmGate), withAnnotation(testenv.AnnotationPodIP, "127.0.201.1"), func(p *corev1.Pod) {
			p.Spec.Containers[0].Ports = []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}}
		})
		for _, pod := range pods {
			Eventually(kubeletSettled(ctx, pod)).Should(BeTrue())
		}
		lift := refuseGateWrites(ctx, ns)
		p := newPolicy(ns, "refused", `http.statusCode == 200`, func(p *v1alpha1.ReadinessGatePolicy) {
			p.Spec.Sources = httpSource(intstr.FromString("http"), "/")
		})
		Expect(k8s.Create(ctx, p)).To(Succeed())
		writes := value("readygate_errors_total", policyLabels(p, "kind", "write"))
		Eventually(writes).Should(BeNumerically(">=", n), "every pod tries its write")

		errs := value("controller_runtime_reconcile_errors_total", map[string]string{"controller": "podgate"})
		errsBefore, writesBefore := errs(), writes()
		// Ten intervals: a write per pod per interval would be 10n.
		Consistently(func() float64 { return errs() - errsBefore }, "10s").Should(BeNumerically("<", n),
			"OPERATOR BUG: a reconcile error, and a line of log, per refused write")
		Expect(writes()-writesBefore).To(BeNumerically("<", 5*n), "OPERATOR BUG: the pods' refused writes are retried every interval")
		GinkgoWriter.Printf("in 10 s: %.0f reconcile errors, %.0f refused writes of %d pods\n", errs()-errsBefore, writes()-writesBefore, n)

		By("the administrator lifting the refusal: each pod writes at its backoff's end")
		lift(ctx)
		Eventually(falseCount(ctx, pods)).Should(Equal(n))
	})
})

// refuseGateWrites has a ValidatingAdmissionPolicy refuse, until lift is
// called or the spec ends, every pods/status write of the namespace that
// sets warmGate: the simulated kubelet's writes go through.
func refuseGateWrites(ctx SpecContext, ns string) (lift func(context.Context)) {
	lift = refuseUpdates(ctx, ns, "", "pods/status",
		fmt.Sprintf("!has(object.status.conditions) || !object.status.conditions.exists(c, c.type == '%s')", warmGate), "the spec refuses gate writes")
	// The API server applies them once its own informers have them.
	probe := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web-0"}}
	patch := client.RawPatch(types.StrategicMergePatchType, fmt.Appendf(nil, `{"status":{"conditions":[{"type":%q,"status":"False"}]}}`, warmGate))
	Eventually(func() error { return k8s.Status().Patch(ctx, probe, patch) }).Should(MatchError(ContainSubstring("refuses gate writes")))
	return lift
}
