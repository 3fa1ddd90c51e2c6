package controllers_test

import (
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	admissionv1 "k8s.io/api/admission/v1"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/readygate/readygate/api/v1alpha1"
	"github.com/readygate/readygate/internal/gate"
)

// maxUnavailable is a share of the pods the policy matches now. While the
// API server refuses the policy's status writes (a brownout, a webhook or
// admission policy in the way), status.matchedPods keeps the last count
// written: a cap taken from it would let every remaining pod go False
// after a scale-down.
var _ = Describe("maxUnavailable while the policy's status cannot be written", func() {
	It("counts from the pods matched now, not from the last status written", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		pods := createPods(ctx, ns, "web", 8, withGates(warmGate), withLabels("warm", "true"))
		p := newPolicy(ns, "cap", "pod.metadata.labels['warm'] == 'true'", func(p *v1alpha1.ReadinessGatePolicy) {
			p.Spec.MaxUnavailable = ptrTo(intstr.FromString("25%"))
		})
		createAndSettle(ctx, p, pods, corev1.ConditionTrue)
		Eventually(policyStatus(ctx, p)).Should(HaveField("MatchedPods", BeEquivalentTo(8)))
		refuseStatusWrites(ctx, p)

		By("scaling down to 2 pods: 25% of them is 1, of the 8 in the status 2")
		for _, pod := range pods[2:] {
			Expect(k8s.Delete(ctx, pod, client.GracePeriodSeconds(0))).To(Succeed())
		}
		Eventually(value("readygate_policy_pods", policyLabels(p, "status", "True"))).Should(BeEquivalentTo(2))
		Expect(policyStatus(ctx, p)()).To(HaveField("MatchedPods", BeEquivalentTo(8)), "the status was written after all")

		most := watchMostFalse(ctx, ns)
		for _, pod := range pods[:2] {
			setWarm(ctx, pod, "false")
		}
		Eventually(falseCount(ctx, pods[:2])).Should(Equal(1))
		Consistently(most, "3s").Should(Equal(1), "OPERATOR BUG: both remaining pods went False under a cap of 25% of 2")
	})
})

// refuseStatusWrites makes the API server refuse every write of the
// policy's status until the spec ends, with a ValidatingAdmissionPolicy.
func refuseStatusWrites(ctx SpecContext, p *v1alpha1.ReadinessGatePolicy) {
	refuseUpdates(ctx, p.Namespace, v1alpha1.GroupVersion.Group, "readinessgatepolicies/status", "false", "the spec refuses status writes")
	// The API server applies them once its own informers have them.
	patch := client.RawPatch(types.MergePatchType, fmt.Appendf(nil, `{"status":{"observedGeneration":%d}}`, p.Generation))
	Eventually(func() error {
		return k8s.Status().Patch(ctx, &v1alpha1.ReadinessGatePolicy{ObjectMeta: metav1.ObjectMeta{Namespace: p.Namespace, Name: p.Name}}, patch)
	}).Should(MatchError(ContainSubstring("refuses status writes")))
}

// While the API server fails a namespace's pod condition writes (here a
// webhook on pods/status answering 500, as one whose backend is down
// does), readygate probes with one write at a time instead of retrying
// every pod's write on its own backoff, and writes every pod once the
// writes go through again, without waiting out a grown backoff.
var _ = Describe("pod condition writes the API server fails", func() {
	It("are paused and probed, and resume at once when the API server takes them again", func(ctx SpecContext) {
		const n = 20
		ns := newNamespace(ctx)
		pods := createPods(ctx, ns, "web", n, withGates(warmGate), withLabels("warm", "true"))
		createAndSettle(ctx, newPolicy(ns, "brownout", "pod.metadata.labels['warm'] == 'true'"), pods, corev1.ConditionTrue)
		hook := failStatusWrites(ctx, ns)

		By("every pod's expression turning false while its writes fail")
		for _, pod := range pods {
			setWarm(ctx, pod, "false")
		}
		Eventually(hook.gateWrites.Load).Should(BeNumerically(">", 0))
		Consistently(hook.gateWrites.Load, "5s").Should(BeNumerically("<", n),
			"OPERATOR BUG: the operator retried every pod's failing write on its own")
		Expect(falseCount(ctx, pods)()).To(BeZero(), "a write went through the failing webhook")

		By("the API server taking writes again")
		attempts := hook.gateWrites.Load()
		hook.failing.Store(false)
		Eventually(falseCount(ctx, pods), "15s").Should(Equal(n))
		GinkgoWriter.Printf("%d condition writes tried in 5 s of failures; all %d pods written after\n", attempts, n)
	})
})

var _ = Describe("a deleted policy's release while the API server fails pod writes", func() {
	It("waits with the paused writes, and completes once they go through", func(ctx SpecContext) {
		const n = 20
		ns := newNamespace(ctx)
		pods := createPods(ctx, ns, "web", n, withGates(warmGate))
		p := settledFalseWithFinalizer(ctx, newPolicy(ns, "release", "false"), pods)
		hook := failStatusWrites(ctx, ns)
		Expect(k8s.Delete(ctx, p)).To(Succeed())
		Eventually(hook.gateWrites.Load).Should(BeNumerically(">", 0))
		Consistently(hook.gateWrites.Load, "3s").Should(BeNumerically("<", n),
			"OPERATOR BUG: the release retried every pod's failing write")
		hook.failing.Store(false)
		for _, pod := range pods {
			Eventually(gateOf(ctx, pod), "15s").Should(And(HaveField("Status", corev1.ConditionTrue), HaveField("Reason", v1alpha1.ReasonPolicyDeleted)))
		}
		Eventually(func() error { return k8s.Get(ctx, client.ObjectKeyFromObject(p), &v1alpha1.ReadinessGatePolicy{}) }).Should(MatchError(ContainSubstring("not found")))
	})
})

// statusHook is a validating webhook on the namespace's pods/status that
// fails every write while failing is set, and counts the writes of the
// spec's gate.
type statusHook struct {
	failing    atomic.Bool
	gateWrites atomic.Int32
}

// failStatusWrites installs a statusHook for the namespace until the spec
// ends, failing, and waits until the API server calls it.
func failStatusWrites(ctx SpecContext, ns string) *statusHook {
	hook := &statusHook{}
	hook.failing.Store(true)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		review := &admissionv1.AdmissionReview{}
		if err := json.NewDecoder(req.Body).Decode(review); err != nil || review.Request == nil {
			http.Error(w, "not an admission review", http.StatusBadRequest)
			return
		}
		var pod, old corev1.Pod
		_ = json.Unmarshal(review.Request.Object.Raw, &pod)
		_ = json.Unmarshal(review.Request.OldObject.Raw, &old)
		if c, was := gate.Find(&pod, warmGate), gate.Find(&old, warmGate); c != nil && (was == nil || c.Status != was.Status) {
			hook.gateWrites.Add(1)
		}
		if hook.failing.Load() {
			http.Error(w, "the webhook's backend is down", http.StatusInternalServerError)
			return
		}
		review.Response = &admissionv1.AdmissionResponse{UID: review.Request.UID, Allowed: true}
		_ = json.NewEncoder(w).Encode(review)
	}))
	DeferCleanup(srv.Close)
	url := srv.URL + "/"
	config := &admissionregistrationv1.ValidatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: "fail-status-" + ns},
		Webhooks: []admissionregistrationv1.ValidatingWebhook{{
			Name: "fail-status.readygate.test",
			ClientConfig: admissionregistrationv1.WebhookClientConfig{URL: &url,
				CABundle: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})},
			Rules: []admissionregistrationv1.RuleWithOperations{{
				Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Update},
				Rule:       admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"pods/status"}},
			}},
			FailurePolicy:           ptrTo(admissionregistrationv1.Fail),
			SideEffects:             ptrTo(admissionregistrationv1.SideEffectClassNone),
			AdmissionReviewVersions: []string{"v1"},
			NamespaceSelector:       &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": ns}},
		}},
	}
	Expect(k8s.Create(ctx, config)).To(Succeed())
	DeferCleanup(func(ctx SpecContext) { Expect(k8s.Delete(ctx, config)).To(Succeed()) })
	probe := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web-0"}}
	patch := client.RawPatch(types.StrategicMergePatchType, []byte(`{"status":{"conditions":[{"type":"example.com/probe","status":"True"}]}}`))
	Eventually(func() error { return k8s.Status().Patch(ctx, probe, patch) }).Should(MatchError(ContainSubstring("backend is down")))
	return hook
}
