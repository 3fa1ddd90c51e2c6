package controllers_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/readygate/readygate/api/v1alpha1"
	"github.com/readygate/readygate/internal/testenv"
)

var _ = Describe("the prometheus source, against a real Prometheus", Ordered, func() {
	var (
		ns                    string
		prom                  *testenv.Prometheus
		promURL               string // prom, through the suite's allowed front
		warm, cold, unscraped *corev1.Pod
		warmSrv, coldSrv      *testenv.PodServer
	)

	BeforeAll(func(ctx SpecContext) {
		ns = newNamespace(ctx)
		warm, warmSrv = podWithServer(ctx, ns, "warm")
		cold, coldSrv = podWithServer(ctx, ns, "cold")
		unscraped, _ = podWithServer(ctx, ns, "unscraped")
		warmSrv.Answer(http.StatusOK, "text/plain", "cache_warm_ratio 0.97\n")
		coldSrv.Answer(http.StatusOK, "text/plain", "cache_warm_ratio 0.5\n")
		var err error
		prom, err = testenv.StartPrometheus(ctx, []testenv.ScrapeTarget{
			{Address: warmSrv.Addr, Labels: map[string]string{"pod": warm.Name, "namespace": ns}},
			{Address: coldSrv.Addr, Labels: map[string]string{"pod": cold.Name, "namespace": ns}},
		})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(prom.Stop)
		promURL = prometheus.route(prom.URL)
	})

	It("gates each pod on its own sample of one query for all pods", func(ctx SpecContext) {
		p := newPolicy(ns, "promql", `prometheus.warm >= 0.95`, func(p *v1alpha1.ReadinessGatePolicy) {
			p.Spec.Sources = &v1alpha1.Sources{Prometheus: &v1alpha1.PrometheusSource{
				Address: promURL,
				Queries: []v1alpha1.PrometheusQuery{{Name: "warm", Query: `max by (pod) (cache_warm_ratio{namespace="{{ .Namespace }}"})`}},
			}}
		})
		Expect(k8s.Create(ctx, p)).To(Succeed())
		Eventually(reasonAndMessage(ctx, warm)).Should(Equal("True ExpressionTrue: the expression is true"))
		Eventually(reasonAndMessage(ctx, cold)).Should(Equal("False ExpressionFalse: the expression is false"))
		Eventually(reasonAndMessage(ctx, unscraped)).Should(Equal(
			`False EvaluationError: spec.expression: prometheus query warm (max by (pod) (cache_warm_ratio{namespace="` + ns +
				`"})) returned no sample with pod="` + unscraped.Name + `"`))

		By("the pods follow their samples")
		coldSrv.Answer(http.StatusOK, "text/plain", "cache_warm_ratio 0.99\n")
		Eventually(statusOf(ctx, cold)).Should(Equal(corev1.ConditionTrue))
	})

	It("reports a query that does not return a vector", func(ctx SpecContext) {
		pods := createPods(ctx, ns, "scalar", 1, withGates(warmGate), withLabels("app", "scalar"))
		p := newPolicy(ns, "scalar", `prometheus.one == 1.0`, func(p *v1alpha1.ReadinessGatePolicy) {
			p.Spec.Selector.MatchLabels = map[string]string{"app": "scalar"}
			p.Spec.Sources = &v1alpha1.Sources{Prometheus: &v1alpha1.PrometheusSource{Address: promURL, Queries: []v1alpha1.PrometheusQuery{{Name: "one", Query: `scalar(vector(1))`}}}}
		})
		Expect(k8s.Create(ctx, p)).To(Succeed())
		Eventually(reasonAndMessage(ctx, pods[0])).Should(Equal(
			"False SourceUnavailable: prometheus: prometheus query one (scalar(vector(1))) returned a scalar, want an instant vector"))
	})

	It("rejects a query with template syntax other than {{ .Namespace }}", func(ctx SpecContext) {
		p := newPolicy(ns, "badtemplate", `prometheus.x > 0.0`, func(p *v1alpha1.ReadinessGatePolicy) {
			p.Spec.Selector.MatchLabels = map[string]string{"app": "none"}
			p.Spec.Sources = &v1alpha1.Sources{Prometheus: &v1alpha1.PrometheusSource{Address: promURL, Queries: []v1alpha1.PrometheusQuery{{Name: "x", Query: `up{ns="{{ .Nope }}"}`}}}}
		})
		Expect(k8s.Create(ctx, p)).To(Succeed())
		Eventually(policyCondition(ctx, p, v1alpha1.ConditionAccepted)).Should(And(
			HaveField("Reason", v1alpha1.ReasonInvalidSource),
			HaveField("Message", And(ContainSubstring("spec.sources.prometheus.queries[0].query"), ContainSubstring("only {{ .Namespace }} may be substituted"))),
			HaveField("Message", ContainSubstring("Nope"))))
	})

	It("authenticates with the bearer token from a Secret of the policy's namespace", func(ctx SpecContext) {
		// A proxy in front of the real server that lets only the token through.
		target, err := url.Parse(prom.URL)
		Expect(err).NotTo(HaveOccurred())
		proxy := httputil.NewSingleHostReverseProxy(target)
		guarded := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Authorization") != "Bearer s3cret" {
				http.Error(w, "unauthorized", http.StatusUnauthorized)
				return
			}
			proxy.ServeHTTP(w, r)
		}))
		DeferCleanup(guarded.Close)

		pods := createPods(ctx, ns, "token", 1, withGates(warmGate), withLabels("app", "token"))
		p := newPolicy(ns, "token", `prometheus.up == 1.0`, func(p *v1alpha1.ReadinessGatePolicy) {
			p.Spec.Selector.MatchLabels = map[string]string{"app": "token"}
			p.Spec.Sources = &v1alpha1.Sources{Prometheus: &v1alpha1.PrometheusSource{
				Address:              prometheus.route(guarded.URL),
				Queries:              []v1alpha1.PrometheusQuery{{Name: "up", Query: `label_replace(vector(1), "pod", "` + pods[0].Name + `", "", "")`}},
				BearerTokenSecretRef: &v1alpha1.SecretKeyRef{Name: "prom-token", Key: "token"},
			}}
		})
		Expect(k8s.Create(ctx, p)).To(Succeed())
		Eventually(reasonAndMessage(ctx, pods[0])).Should(ContainSubstring(`False SourceUnavailable: prometheus: spec.sources.prometheus.bearerTokenSecretRef: secrets "prom-token" not found`))

		secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "prom-token", Namespace: ns}, Data: map[string][]byte{"token": []byte("s3cret\n")}}
		Expect(k8s.Create(ctx, secret)).To(Succeed())
		Eventually(reasonAndMessage(ctx, pods[0])).Should(Equal("True ExpressionTrue: the expression is true"))
	})

	It("reads the token Secret at most every 30 s, however short the interval", func(ctx SpecContext) {
		secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "busy-token", Namespace: ns}, Data: map[string][]byte{"token": []byte("t0ken")}}
		Expect(k8s.Create(ctx, secret)).To(Succeed())
		pods := createPods(ctx, ns, "busy", 1, withGates(warmGate), withLabels("app", "busy"))
		p := newPolicy(ns, "busy", `prometheus.up == 1.0`, func(p *v1alpha1.ReadinessGatePolicy) {
			p.Spec.Selector.MatchLabels = map[string]string{"app": "busy"}
			p.Spec.Interval = &metav1.Duration{Duration: time.Second}
			p.Spec.Sources = &v1alpha1.Sources{Prometheus: &v1alpha1.PrometheusSource{
				Address:              promURL,
				Queries:              []v1alpha1.PrometheusQuery{{Name: "up", Query: `label_replace(vector(1), "pod", "` + pods[0].Name + `", "", "")`}},
				BearerTokenSecretRef: &v1alpha1.SecretKeyRef{Name: "busy-token", Key: "token"},
			}}
		})
		Expect(k8s.Create(ctx, p)).To(Succeed())
		Eventually(statusOf(ctx, pods[0])).Should(Equal(corev1.ConditionTrue))
		// A tenant's policies at an interval of a second must not cost the
		// API server a Secret read per policy per second.
		before := secretGets(ctx)
		start := time.Now()
		Eventually(func() time.Duration { return time.Since(start) }, "6s").Should(BeNumerically(">=", 4*time.Second))
		Expect(secretGets(ctx)-before).To(BeNumerically("<=", 1), "Secret reads in 4 rounds of one policy")
	})

	It("makes an unreachable Prometheus SourceUnavailable", func(ctx SpecContext) {
		pods := createPods(ctx, ns, "down", 1, withGates(warmGate), withLabels("app", "down"))
		p := newPolicy(ns, "down", `prometheus.x > 0.0`, func(p *v1alpha1.ReadinessGatePolicy) {
			p.Spec.Selector.MatchLabels = map[string]string{"app": "down"}
			p.Spec.Sources = &v1alpha1.Sources{Prometheus: &v1alpha1.PrometheusSource{Address: deadPrometheus, Queries: []v1alpha1.PrometheusQuery{{Name: "x", Query: `up`}}}}
		})
		Expect(k8s.Create(ctx, p)).To(Succeed())
		Eventually(reasonAndMessage(ctx, pods[0])).Should(And(
			ContainSubstring("False SourceUnavailable: prometheus: prometheus query x (up) at http://127.0.0.1:1"),
			ContainSubstring("connection refused")))
	})

	// Last: it stops the suite's Prometheus.
	It("holds True gates while Prometheus is down (onError: Hold), while a pod whose own endpoint dies goes False", func(ctx SpecContext) {
		a, aSrv := podWithServer(ctx, ns, "held-a")
		b, bSrv := podWithServer(ctx, ns, "held-b")
		for _, pod := range []*corev1.Pod{a, b} {
			updatePod(ctx, pod, func(pod *corev1.Pod) { pod.Labels["app"] = "held" })
		}
		aSrv.Answer(http.StatusOK, "text/plain", "ok")
		bSrv.Answer(http.StatusOK, "text/plain", "ok")
		up := func(pod *corev1.Pod) string { return `label_replace(vector(1), "pod", "` + pod.Name + `", "", "")` }
		p := newPolicy(ns, "held", `http.statusCode == 200 && prometheus.up == 1.0`, func(p *v1alpha1.ReadinessGatePolicy) {
			p.Spec.Selector.MatchLabels = map[string]string{"app": "held"}
			p.Spec.MaxUnavailable = ptrTo(intstr.FromString("100%"))
			p.Spec.Sources = httpSource(intstr.FromString("http"), "/")
			p.Spec.Sources.Prometheus = &v1alpha1.PrometheusSource{Address: promURL, Queries: []v1alpha1.PrometheusQuery{{Name: "up", Query: up(a) + " or " + up(b)}}}
		})
		createAndSettle(ctx, p, []*corev1.Pod{a, b}, corev1.ConditionTrue)

		By("Prometheus stops: the gates hold, counted as stale, told once")
		Expect(prom.Stop()).To(Succeed())
		Eventually(policyStatus(ctx, p)).Should(HaveField("StaleDataPods", BeEquivalentTo(2)))
		Eventually(eventReasons(ctx, ns, p.Name)).Should(ContainElement("GatesHeldOnStaleData"))
		for _, pod := range []*corev1.Pod{a, b} {
			Consistently(statusOf(ctx, pod), "3s").Should(Equal(corev1.ConditionTrue), "failureThreshold is 1 and the interval 1s: a monitoring outage must not take pods out")
			Expect(conditionOf(ctx, pod, string(corev1.PodReady))()).To(HaveField("Status", corev1.ConditionTrue))
		}

		By("a pod's own endpoint dying is a verdict about the pod")
		Expect(bSrv.Close()).To(Succeed())
		Eventually(reasonAndMessage(ctx, b)).Should(HavePrefix("False SourceUnavailable: http:"))
		Eventually(conditionOf(ctx, b, string(corev1.PodReady))).Should(HaveField("Status", corev1.ConditionFalse))
		Consistently(statusOf(ctx, a), "2s").Should(Equal(corev1.ConditionTrue))

		By("a pod answering 503 is not ready whatever Prometheus would say")
		aSrv.Answer(http.StatusServiceUnavailable, "text/plain", "draining")
		Eventually(reasonAndMessage(ctx, a)).Should(HavePrefix("False ExpressionFalse: the expression is false whatever the failed source would say (prometheus:"))
	})
})

// secretGets is how many GETs of a Secret the API server has served, from
// its own metrics.
func secretGets(ctx context.Context) float64 {
	n, err := testenv.APIServerCount(ctx, cp.Config, "apiserver_request_total", `resource="secrets"`, `verb="GET"`)
	Expect(err).NotTo(HaveOccurred())
	return n
}
