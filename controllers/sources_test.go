package controllers_test

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/readygate/readygate/api/v1alpha1"
	"github.com/readygate/readygate/internal/testenv"
)

var nextLoopback atomic.Int32

// podWithServer creates a pod with the gates (warmGate when none) on its own
// loopback IP with a real HTTP server behind it on port 8080 (named "http").
func podWithServer(ctx context.Context, ns, name string, gates ...string) (*corev1.Pod, *testenv.PodServer) {
	if len(gates) == 0 {
		gates = []string{warmGate}
	}
	ip := fmt.Sprintf("127.0.200.%d", nextLoopback.Add(1))
	srv, err := testenv.StartPodServer(ip, 8080)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(srv.Close)
	pods := createPods(ctx, ns, name, 1, withGates(gates...), withAnnotation(testenv.AnnotationPodIP, ip), func(p *corev1.Pod) {
		p.Spec.Containers[0].Ports = []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}}
	})
	return pods[0], srv
}

// podsAnsweringOK makes n pods named prefix-0… whose servers answer 200.
func podsAnsweringOK(ctx context.Context, ns, prefix string, n int) ([]*corev1.Pod, []*testenv.PodServer) {
	pods := make([]*corev1.Pod, 0, n)
	servers := make([]*testenv.PodServer, 0, n)
	for i := range n {
		pod, srv := podWithServer(ctx, ns, fmt.Sprintf("%s-%d", prefix, i))
		srv.Answer(http.StatusOK, "text/plain", "ok")
		pods, servers = append(pods, pod), append(servers, srv)
	}
	return pods, servers
}

func reasonAndMessage(ctx context.Context, pod *corev1.Pod) func() (string, error) {
	return func() (string, error) {
		c, err := gateOf(ctx, pod)()
		if c == nil {
			return "", err
		}
		return fmt.Sprintf("%s %s: %s", c.Status, c.Reason, c.Message), nil
	}
}

func httpSource(port intstr.IntOrString, path string) *v1alpha1.Sources {
	return &v1alpha1.Sources{HTTP: &v1alpha1.HTTPSource{PodEndpoint: v1alpha1.PodEndpoint{
		Port: port, Path: path, Timeout: &metav1.Duration{Duration: 300 * time.Millisecond}}}}
}

var _ = Describe("the http source", func() {
	It("follows what the pod's own endpoint answers", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		pod, srv := podWithServer(ctx, ns, "web")
		srv.Answer(http.StatusServiceUnavailable, "application/json", `{"warm": false}`)
		p := newPolicy(ns, "http", `http.statusCode == 200 && http.json.warm`, func(p *v1alpha1.ReadinessGatePolicy) {
			p.Spec.Sources = httpSource(intstr.FromString("http"), "/ready")
			p.Spec.MessageExpression = `"status " + string(http.statusCode)`
		})
		Expect(k8s.Create(ctx, p)).To(Succeed())
		Eventually(reasonAndMessage(ctx, pod)).Should(Equal("False ExpressionFalse: status 503"))

		srv.Answer(http.StatusOK, "application/json", `{"warm": true}`)
		Eventually(reasonAndMessage(ctx, pod)).Should(Equal("True ExpressionTrue: status 200"))

		By("a dead endpoint is SourceUnavailable")
		Expect(srv.Close()).To(Succeed())
		Eventually(reasonAndMessage(ctx, pod)).Should(And(ContainSubstring("False SourceUnavailable: http: GET http://127.0.200."), ContainSubstring("connection refused")))
	})

	It("bounds a slow endpoint by the timeout and never holds a True gate below failureThreshold", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		pod, srv := podWithServer(ctx, ns, "slow")
		p := newPolicy(ns, "slow", `http.statusCode == 200`, func(p *v1alpha1.ReadinessGatePolicy) {
			p.Spec.Sources = httpSource(intstr.FromInt32(8080), "/")
			p.Spec.FailureThreshold = 3
		})
		Expect(k8s.Create(ctx, p)).To(Succeed())
		Eventually(statusOf(ctx, pod)).Should(Equal(corev1.ConditionTrue))
		srv.Delay(5 * time.Second)
		Consistently(statusOf(ctx, pod), "1500ms").Should(Equal(corev1.ConditionTrue))
		Eventually(reasonAndMessage(ctx, pod)).Should(Equal(fmt.Sprintf("False SourceUnavailable: http: GET http://%s/: timed out", srv.Addr)))
	})

	It("holds the gates when most of a namespace's pods answer no fetch at once, as when readygate's own network fails", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		pods, srvs := podsAnsweringOK(ctx, ns, "web", 5)
		p := newPolicy(ns, "net", `http.statusCode == 200`, func(p *v1alpha1.ReadinessGatePolicy) {
			p.Spec.Sources = httpSource(intstr.FromString("http"), "/")
			p.Spec.Interval = &metav1.Duration{Duration: time.Second}
			p.Spec.FailureThreshold = 2
			p.Spec.MaxUnavailable = ptrTo(intstr.FromString("100%"))
		})
		createAndSettle(ctx, p, pods, corev1.ConditionTrue)

		By("one pod of five stops answering: a verdict on that pod")
		Expect(srvs[0].Close()).To(Succeed())
		Eventually(reasonAndMessage(ctx, pods[0])).Should(HavePrefix("False SourceUnavailable: http:"))

		By("the other four stop answering too: readygate's network is the likelier fault, and the gates hold")
		for _, srv := range srvs[1:] {
			Expect(srv.Close()).To(Succeed())
		}
		Eventually(policyStatus(ctx, p)).Should(HaveField("StaleDataPods", BeEquivalentTo(4)))
		for _, pod := range pods[1:] {
			Consistently(statusOf(ctx, pod), "2s").Should(Equal(corev1.ConditionTrue))
		}
	})

	It("counts each fetched answer once toward failureThreshold, however often the pod is reconciled", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		pod, srv := podWithServer(ctx, ns, "blip")
		p := newPolicy(ns, "blip", `http.statusCode == 200`, func(p *v1alpha1.ReadinessGatePolicy) {
			p.Spec.Sources = httpSource(intstr.FromInt32(8080), "/")
			p.Spec.Interval = &metav1.Duration{Duration: time.Second}
			p.Spec.FailureThreshold = 2
		})
		Expect(k8s.Create(ctx, p)).To(Succeed())
		Eventually(statusOf(ctx, pod)).Should(Equal(corev1.ConditionTrue))
		flipped := watchMostFalse(ctx, ns)
		// A reconcile an interval after the failed answer often comes before
		// the next fetch, and reads the same answer again: counted twice,
		// one failed probe would reach failureThreshold 2.
		for range 4 {
			srv.Answer(http.StatusServiceUnavailable, "text/plain", "blip")
			failed := srv.Requests()
			Eventually(srv.Requests).Should(BeNumerically(">", failed))
			srv.Answer(http.StatusOK, "text/plain", "ok")
			answered := srv.Requests()
			Eventually(srv.Requests, "3s").Should(BeNumerically(">", answered+1))
		}
		Expect(flipped()).To(BeZero(), "one failed answer at a time never reaches failureThreshold 2")
		Expect(statusOf(ctx, pod)()).To(Equal(corev1.ConditionTrue))
	})

	It("fetches a pod's endpoint once per interval however many policies read it", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		pod, srv := podWithServer(ctx, ns, "shared", "readygate.io/one", "readygate.io/two")
		for _, ct := range []string{"readygate.io/one", "readygate.io/two"} {
			p := newPolicy(ns, ct[len("readygate.io/"):], `http.statusCode == 200`, func(p *v1alpha1.ReadinessGatePolicy) {
				p.Spec.ConditionType = ct
				p.Spec.Sources = httpSource(intstr.FromInt32(8080), "/")
				p.Spec.Interval = &metav1.Duration{Duration: time.Second}
			})
			Expect(k8s.Create(ctx, p)).To(Succeed())
		}
		Eventually(conditionOf(ctx, pod, "readygate.io/one")).ShouldNot(BeNil())
		Eventually(conditionOf(ctx, pod, "readygate.io/two")).ShouldNot(BeNil())
		before := srv.Requests()
		start := time.Now()
		Eventually(func() time.Duration { return time.Since(start) }, "5s").Should(BeNumerically(">=", 4*time.Second))
		// One fetch a second (±10% jitter) for both policies; two would mean no sharing.
		Expect(srv.Requests() - before).To(BeNumerically("<=", 6))
		Expect(srv.Requests() - before).To(BeNumerically(">=", 3))
	})

	It("reports a container port name that the pod lacks", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		pod, _ := podWithServer(ctx, ns, "noport")
		p := newPolicy(ns, "noport", `http.statusCode == 200`, func(p *v1alpha1.ReadinessGatePolicy) {
			p.Spec.Sources = httpSource(intstr.FromString("admin"), "/")
		})
		Expect(k8s.Create(ctx, p)).To(Succeed())
		Eventually(reasonAndMessage(ctx, pod)).Should(Equal(`False SourceUnavailable: http: no container of the pod has a port named "admin"`))
	})
})

var _ = Describe("the metrics source", func() {
	It("scrapes the pod and reads series by name and labels", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		pod, srv := podWithServer(ctx, ns, "warm")
		metrics := func(ratio float64) string {
			return "# TYPE cache_warm_ratio gauge\ncache_warm_ratio{cache=\"main\"} " + strconv.FormatFloat(ratio, 'f', -1, 64) +
				"\ncache_warm_ratio{cache=\"aux\"} 1\n"
		}
		srv.Answer(http.StatusOK, "text/plain; version=0.0.4", metrics(0.5))
		p := newPolicy(ns, "metrics", `metrics.value("cache_warm_ratio", {"cache": "main"}) >= 0.95`, func(p *v1alpha1.ReadinessGatePolicy) {
			p.Spec.Sources = &v1alpha1.Sources{Metrics: &v1alpha1.MetricsSource{PodEndpoint: v1alpha1.PodEndpoint{Port: intstr.FromString("http")}}}
			p.Spec.MessageExpression = `"warm ratio " + string(metrics.value("cache_warm_ratio", {"cache": "main"}))`
		})
		Expect(k8s.Create(ctx, p)).To(Succeed())
		Eventually(reasonAndMessage(ctx, pod)).Should(Equal("False ExpressionFalse: warm ratio 0.5"))
		srv.Answer(http.StatusOK, "text/plain; version=0.0.4", metrics(0.97))
		Eventually(reasonAndMessage(ctx, pod)).Should(Equal("True ExpressionTrue: warm ratio 0.97"))

		By("malformed metrics are SourceUnavailable")
		srv.Answer(http.StatusOK, "text/plain; version=0.0.4", "cache_warm_ratio{oops 1\n")
		Eventually(reasonAndMessage(ctx, pod)).Should(ContainSubstring("False SourceUnavailable: metrics: scraping http://"))
	})

	It("makes a missing metric an evaluation error, never a silent zero", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		pod, srv := podWithServer(ctx, ns, "missing")
		srv.Answer(http.StatusOK, "text/plain", "up 1\n")
		p := newPolicy(ns, "missing", `metrics.value("cache_warm_ratio") >= 0.0`, func(p *v1alpha1.ReadinessGatePolicy) {
			p.Spec.Sources = &v1alpha1.Sources{Metrics: &v1alpha1.MetricsSource{PodEndpoint: v1alpha1.PodEndpoint{Port: intstr.FromInt32(8080)}}}
		})
		Expect(k8s.Create(ctx, p)).To(Succeed())
		Eventually(reasonAndMessage(ctx, pod)).Should(Equal(fmt.Sprintf(
			`False EvaluationError: spec.expression: metric "cache_warm_ratio" is not in the scrape of http://%s/metrics`, srv.Addr)))
	})
})

var _ = Describe("the endpoints source", func() {
	It("sees the EndpointSlice entries that carry the pod, and follows their changes", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		pods := createPods(ctx, ns, "web", 2, withGates(warmGate))
		p := newPolicy(ns, "endpoints", `endpoints.exists(e, e.serviceName == "checkout" && !e.terminating && e.ports.exists(p, p.name == "http"))`, func(p *v1alpha1.ReadinessGatePolicy) {
			p.Spec.Sources = &v1alpha1.Sources{Endpoints: &v1alpha1.EndpointsSource{}}
		})
		Expect(k8s.Create(ctx, p)).To(Succeed())
		for _, pod := range pods {
			Eventually(statusOf(ctx, pod)).Should(Equal(corev1.ConditionFalse))
		}
		slice := &discoveryv1.EndpointSlice{
			ObjectMeta:  metav1.ObjectMeta{Name: "checkout-x1", Namespace: ns, Labels: map[string]string{discoveryv1.LabelServiceName: "checkout"}},
			AddressType: discoveryv1.AddressTypeIPv4,
			Endpoints: []discoveryv1.Endpoint{{
				Addresses:  []string{"198.51.100.20"},
				Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(false), Serving: ptr.To(true)},
				TargetRef:  &corev1.ObjectReference{Kind: "Pod", Name: pods[0].Name, Namespace: ns},
			}},
			Ports: []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To[int32](8080)}},
		}
		Expect(k8s.Create(ctx, slice)).To(Succeed())
		Eventually(statusOf(ctx, pods[0])).Should(Equal(corev1.ConditionTrue))
		Consistently(statusOf(ctx, pods[1]), "1s").Should(Equal(corev1.ConditionFalse))

		slice.Endpoints[0].Conditions.Terminating = ptr.To(true)
		Expect(k8s.Update(ctx, slice)).To(Succeed())
		Eventually(statusOf(ctx, pods[0])).Should(Equal(corev1.ConditionFalse))
	})

	It("warns that reading an endpoint's ready or serving flag deadlocks the gate", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		p := newPolicy(ns, "deadlock", `endpoints.exists(e, e.ready)`, func(p *v1alpha1.ReadinessGatePolicy) {
			p.Spec.Sources = &v1alpha1.Sources{Endpoints: &v1alpha1.EndpointsSource{}}
		})
		Expect(k8s.Create(ctx, p)).To(Succeed())
		Eventually(policyCondition(ctx, p, v1alpha1.ConditionAccepted)).Should(And(
			HaveField("Status", metav1.ConditionTrue),
			HaveField("Message", ContainSubstring("warning: the expression reads an endpoint's ready or serving flag")),
		))
	})
})
