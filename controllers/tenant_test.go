package controllers_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/readygate/readygate/api/v1alpha1"
	"github.com/readygate/readygate/internal/sources"
	"github.com/readygate/readygate/internal/testenv"
)

// Tenants attack the operator (design rules 15-18). The deny list and
// --allow-host-network-sources are unit-tested in internal/sources: the
// suite's pods live on loopback, so it runs with an empty deny list.
var _ = Describe("a reserved condition type", func() {
	// A load balancer's gate keeps a pod out of traffic until the load
	// balancer can reach it: a tenant's policy must not open it early, even
	// by suspending itself, which sets its gates True unevaluated.
	It("is never written, even by a suspended policy", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		const lb = "target-health.elbv2.k8s.aws/k8s-shop-web"
		pods := createPods(ctx, ns, "web", 2, withGates(lb))
		p := newPolicy(ns, "lb", "true", func(p *v1alpha1.ReadinessGatePolicy) {
			p.Spec.ConditionType = lb
			p.Spec.Suspend = true
		})
		Expect(k8s.Create(ctx, p)).To(Succeed())
		Eventually(policyCondition(ctx, p, v1alpha1.ConditionAccepted)).Should(And(
			HaveField("Reason", v1alpha1.ReasonConditionTypeReserved),
			HaveField("Message", ContainSubstring("--reserved-condition-types")),
		))
		for _, pod := range pods {
			Consistently(conditionOf(ctx, pod, lb), "2s").Should(BeNil())
		}
		Expect(k8s.Delete(ctx, p)).To(Succeed())
		for _, pod := range pods {
			Consistently(conditionOf(ctx, pod, lb), "1s").Should(BeNil(), "nor released on delete")
		}
	})
})

var _ = Describe("tenant safety", func() {
	// stillGating checks, after each attack, that the operator is alive and
	// still gates another namespace's pods by their expression.
	stillGating := func(ctx SpecContext) {
		ns := newNamespace(ctx)
		pods := createPods(ctx, ns, "bystander", 1, withGates(warmGate))
		Expect(k8s.Create(ctx, newPolicy(ns, "bystander", "has(pod.metadata.labels.warm) && pod.metadata.labels.warm == 'true'"))).To(Succeed())
		Eventually(statusOf(ctx, pods[0])).Should(Equal(corev1.ConditionFalse))
		setWarm(ctx, pods[0], "true")
		Eventually(statusOf(ctx, pods[0])).Should(Equal(corev1.ConditionTrue))
	}

	// promPolicy gates pods labelled app=name on a prometheus query at address.
	promPolicy := func(ns, name, address string, mutate ...func(*v1alpha1.PrometheusSource)) *v1alpha1.ReadinessGatePolicy {
		return newPolicy(ns, name, `prometheus.x == 1.0`, func(p *v1alpha1.ReadinessGatePolicy) {
			p.Spec.Selector.MatchLabels = map[string]string{"app": name}
			p.Spec.Sources = &v1alpha1.Sources{Prometheus: &v1alpha1.PrometheusSource{
				Address: address, Queries: []v1alpha1.PrometheusQuery{{Name: "x", Query: `up`}}}}
			for _, m := range mutate {
				m(p.Spec.Sources.Prometheus)
			}
		})
	}

	// polledPod is a running pod whose http endpoint a policy polls every
	// second, its gate True.
	polledPod := func(ctx SpecContext, ns, name string) (*corev1.Pod, *testenv.PodServer) {
		pod, srv := podWithServer(ctx, ns, name)
		srv.Answer(http.StatusOK, "text/plain", "ok")
		Expect(k8s.Create(ctx, newPolicy(ns, "http", `http.statusCode == 200`, func(p *v1alpha1.ReadinessGatePolicy) {
			p.Spec.Sources = httpSource(intstr.FromString("http"), "/ready")
		}))).To(Succeed())
		Eventually(statusOf(ctx, pod)).Should(Equal(corev1.ConditionTrue))
		Eventually(srv.Requests).Should(BeNumerically(">=", 2), "polled every second while it runs")
		return pod, srv
	}

	// Each write is a pod event, and each event an evaluation: a message
	// that changes at every evaluation rewrote the pod in a loop, about 125
	// times a second, whatever the interval.
	for _, message := range []string{"string(now)", "pod.metadata.resourceVersion"} {
		It("rewrites a message that changes at every evaluation once per interval, not in a loop: "+message, func(ctx SpecContext) {
			ns := newNamespace(ctx)
			pods := createPods(ctx, ns, "web", 1, withGates(warmGate))
			Expect(k8s.Create(ctx, newPolicy(ns, "moving", "true", func(p *v1alpha1.ReadinessGatePolicy) {
				p.Spec.MessageExpression = message
				p.Spec.Interval.Duration = time.Hour
			}))).To(Succeed())
			Eventually(statusOf(ctx, pods[0])).Should(Equal(corev1.ConditionTrue))
			Eventually(kubeletSettled(ctx, pods[0])).Should(BeTrue())
			rvs := resourceVersions(ctx, pods)()
			Consistently(resourceVersions(ctx, pods), "3s", "250ms").Should(Equal(rvs))
			stillGating(ctx)
		})
	}

	It("neither evaluates nor dials a finished pod, whose IP is back in the pool", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		pod, srv := polledPod(ctx, ns, "job")

		By("the pod succeeds")
		got := &corev1.Pod{}
		Expect(k8s.Get(ctx, client.ObjectKeyFromObject(pod), got)).To(Succeed())
		before := got.DeepCopy()
		got.Status.Phase = corev1.PodSucceeded
		Expect(k8s.Status().Patch(ctx, got, client.MergeFrom(before))).To(Succeed())
		// The IP is polled every second while wanted: a quiet window of
		// three intervals means its targets were dropped.
		Expect(srv.WaitQuiet(3*time.Second, 20*time.Second)).To(Succeed())
		Expect(reasonAndMessage(ctx, pod)()).To(Equal("True ExpressionTrue: the expression is true"), "a finished pod is not evaluated")
		stillGating(ctx)
	})

	It("dials a deleted pod's IP no more, as soon as the pod is gone", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		pod, srv := polledPod(ctx, ns, "gone")

		By("the pod is force-deleted")
		Expect(k8s.Delete(ctx, pod, client.GracePeriodSeconds(0))).To(Succeed())
		Eventually(func() bool { return apierrors.IsNotFound(k8s.Get(ctx, client.ObjectKeyFromObject(pod), &corev1.Pod{})) }).Should(BeTrue())
		// Unwanted targets expire after three intervals (3s) anyway; a
		// deleted pod's go as its deletion reaches the operator, so the
		// server is quiet for two intervals well before they would expire.
		Expect(srv.WaitQuiet(2*time.Second, 3500*time.Millisecond)).To(Succeed())
		stillGating(ctx)
	})

	It("forgets a policy whose finalizer a tenant stripped before deleting it", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		pods := createPods(ctx, ns, "web", 1, withGates(warmGate))
		p := newPolicy(ns, "stripped", "true")
		createAndSettle(ctx, p, pods, corev1.ConditionTrue)
		Eventually(value("readygate_policy_pods", policyLabels(p, "status", "True"))).Should(BeEquivalentTo(1))

		By("the finalizer stripped and the policy deleted at once, before the operator puts it back")
		got := &v1alpha1.ReadinessGatePolicy{}
		Expect(k8s.Get(ctx, client.ObjectKeyFromObject(p), got)).To(Succeed())
		stripped := got.DeepCopy()
		stripped.Finalizers = nil
		Expect(k8s.Patch(ctx, stripped, client.MergeFrom(got))).To(Succeed())
		Expect(k8s.Delete(ctx, p)).To(Succeed())
		Eventually(func() bool { return apierrors.IsNotFound(k8s.Get(ctx, client.ObjectKeyFromObject(p), got)) }).Should(BeTrue())
		for _, name := range []string{"readygate_policy_pods", "readygate_policy_condition"} {
			Eventually(func() bool { _, ok := sample(name, policyLabels(p))(); return ok }).Should(BeFalse(), name)
		}
		stillGating(ctx)
	})

	It("refuses a hostNetwork pod, whose IP is its node's", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		ip := fmt.Sprintf("127.0.200.%d", nextLoopback.Add(1))
		srv, err := testenv.StartPodServer(ip, 8080)
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(srv.Close)
		pods := createPods(ctx, ns, "node", 1, withGates(warmGate), withAnnotation(testenv.AnnotationPodIP, ip), func(p *corev1.Pod) {
			p.Spec.HostNetwork = true
			p.Spec.Containers[0].Ports = []corev1.ContainerPort{{Name: "http", ContainerPort: 8080, HostPort: 8080}}
		})
		Expect(k8s.Create(ctx, newPolicy(ns, "http", `http.statusCode == 200`, func(p *v1alpha1.ReadinessGatePolicy) {
			p.Spec.Sources = httpSource(intstr.FromString("http"), "/ready")
		}))).To(Succeed())
		Eventually(reasonAndMessage(ctx, pods[0])).Should(And(HavePrefix("False "),
			ContainSubstring("http: the pod uses hostNetwork, so its IP is its node's: readygate dials it only when it runs with --allow-host-network-sources")))
		Expect(srv.Requests()).To(BeZero())
		stillGating(ctx)
	})

	It("refuses a Prometheus outside --prometheus-allowed-urls with Accepted=False, SourceNotAllowed, and sends it nothing", func(ctx SpecContext) {
		var hits atomic.Int32
		outside := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
		DeferCleanup(outside.Close)
		ns := newNamespace(ctx)
		createPods(ctx, ns, "outside", 1, withGates(warmGate), withLabels("app", "outside"))
		Expect(k8s.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "token", Namespace: ns}, Data: map[string][]byte{"token": []byte("s3cret")}})).To(Succeed())
		p := promPolicy(ns, "outside", outside.URL, func(s *v1alpha1.PrometheusSource) {
			s.BearerTokenSecretRef = &v1alpha1.SecretKeyRef{Name: "token", Key: "token"}
		})
		Expect(k8s.Create(ctx, p)).To(Succeed())
		Eventually(policyCondition(ctx, p, v1alpha1.ConditionAccepted)).Should(And(
			HaveField("Status", metav1.ConditionFalse),
			HaveField("Reason", v1alpha1.ReasonSourceNotAllowed),
			HaveField("Message", ContainSubstring(`spec.sources.prometheus.address: prometheus address "`+outside.URL+`" is not under any URL that readygate's --prometheus-allowed-urls allows`))))
		Consistently(hits.Load).WithTimeout(3 * time.Second).Should(BeZero())
		stillGating(ctx)
	})

	It("follows no redirect from Prometheus, so the token goes nowhere else", func(ctx SpecContext) {
		var elsewhere atomic.Int32
		var leaked atomic.Value
		leaked.Store("")
		target := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
			elsewhere.Add(1)
			leaked.Store(r.Header.Get("Authorization"))
		}))
		DeferCleanup(target.Close)
		redirecting := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, target.URL+"/steal", http.StatusTemporaryRedirect)
		}))
		DeferCleanup(redirecting.Close)
		ns := newNamespace(ctx)
		pods := createPods(ctx, ns, "redirect", 1, withGates(warmGate), withLabels("app", "redirect"))
		Expect(k8s.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "token", Namespace: ns}, Data: map[string][]byte{"token": []byte("s3cret")}})).To(Succeed())
		Expect(k8s.Create(ctx, promPolicy(ns, "redirect", prometheus.route(redirecting.URL), func(s *v1alpha1.PrometheusSource) {
			s.BearerTokenSecretRef = &v1alpha1.SecretKeyRef{Name: "token", Key: "token"}
		}))).To(Succeed())
		Eventually(reasonAndMessage(ctx, pods[0])).Should(And(HavePrefix("False SourceUnavailable: prometheus: "),
			ContainSubstring("redirected to "+target.URL+"/steal: readygate follows no redirects from Prometheus")))
		Expect(elsewhere.Load()).To(BeZero())
		Expect(leaked.Load()).To(BeEmpty())
		stillGating(ctx)
	})

	It("reads at most the cap of a 300 MiB Prometheus answer", func(ctx SpecContext) {
		huge := testenv.StartHugePrometheus(300 << 20)
		DeferCleanup(huge.Close)
		ns := newNamespace(ctx)
		pods := createPods(ctx, ns, "huge", 1, withGates(warmGate), withLabels("app", "huge"))
		p := promPolicy(ns, "huge", prometheus.route(huge.URL))
		// Each answer is cut at the cap, so another round costs little; a round
		// whose stream the loaded machine cut short (unexpected EOF) is followed
		// by another that reaches the cap.
		p.Spec.Interval = &metav1.Duration{Duration: 5 * time.Second}
		Expect(k8s.Create(ctx, p)).To(Succeed())
		Eventually(reasonAndMessage(ctx, pods[0])).Should(And(HavePrefix("False SourceUnavailable: prometheus: "),
			ContainSubstring(fmt.Sprintf("the prometheus answer is larger than %d bytes", sources.MaxPrometheusBytes))))
		// The proxy and the sockets buffer a little past the cap; nothing
		// near the 300 MiB is read.
		Expect(huge.Largest.Load()).To(BeNumerically("<", 64<<20))
		stillGating(ctx)
	})

	It("lets a tenant's tarpits slow only that tenant: another namespace's gates still follow their expression", func(ctx SpecContext) {
		attacker := newNamespace(ctx)
		ip := fmt.Sprintf("127.0.200.%d", nextLoopback.Add(1))
		pit, err := testenv.StartPodServer(ip, 8080)
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(pit.Close)
		pit.Delay(time.Minute)
		// Every pod of the attacker shares the one tarpit IP: each is still a
		// fetch of its own, held for the 30s timeout.
		createPods(ctx, attacker, "pit", 40, withGates(warmGate), withAnnotation(testenv.AnnotationPodIP, ip), func(p *corev1.Pod) {
			p.Spec.Containers[0].Ports = []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}}
		})
		Expect(k8s.Create(ctx, newPolicy(attacker, "pit", `http.statusCode == 200`, func(p *v1alpha1.ReadinessGatePolicy) {
			p.Spec.Sources = httpSource(intstr.FromString("http"), "/")
			p.Spec.Sources.HTTP.Timeout = &metav1.Duration{Duration: 30 * time.Second}
		}))).To(Succeed())
		// The suite runs 16 workers, so a namespace holds at most 4.
		Eventually(pit.Requests).Should(BeNumerically(">=", 4))
		held := time.Now()

		victim := newNamespace(ctx)
		pods, servers := podsAnsweringOK(ctx, victim, "victim", 3)
		Expect(k8s.Create(ctx, newPolicy(victim, "http", `http.statusCode == 200`, func(p *v1alpha1.ReadinessGatePolicy) {
			p.Spec.Sources = httpSource(intstr.FromString("http"), "/ready")
		}))).To(Succeed())
		// Behind the tarpits, the first fetch would wait for their 30s timeout.
		for _, pod := range pods {
			Eventually(statusOf(ctx, pod)).WithTimeout(10 * time.Second).Should(Equal(corev1.ConditionTrue))
		}
		servers[0].Answer(http.StatusServiceUnavailable, "text/plain", "draining")
		Eventually(statusOf(ctx, pods[0])).WithTimeout(10 * time.Second).Should(Equal(corev1.ConditionFalse))
		// Each 30s timeout frees the attacker's 4 workers for its next 4 fetches.
		Expect(pit.Requests()).To(BeNumerically("<=", 4*(1+int(time.Since(held)/(30*time.Second)))), "the attacker held more than its share of the workers")
		stillGating(ctx)
	})
})
