package e2e_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/readygate/readygate/api/v1alpha1"
	"github.com/readygate/readygate/internal/testenv"
)

const gateType = "readygate.io/promoted"

var _ = Describe("a Service's endpoints follow the gate", func() {
	It("keeps gated pods out of the Service until the expression holds", func(ctx SpecContext) {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop"}}
		Expect(k8s.Create(ctx, ns)).To(Succeed())
		svc := &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: "checkout", Namespace: ns.Name},
			Spec: corev1.ServiceSpec{
				Selector: map[string]string{"app": "checkout"},
				Ports:    []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080)}},
			},
		}
		Expect(k8s.Create(ctx, svc)).To(Succeed())

		// Data-only addresses: the apiserver refuses loopback in EndpointSlices, and nothing dials these.
		for i := range 3 {
			pod := &corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{
					Name: fmt.Sprintf("checkout-%d", i), Namespace: ns.Name,
					Labels:      map[string]string{"app": "checkout"},
					Annotations: map[string]string{testenv.AnnotationPodIP: fmt.Sprintf("198.51.100.%d", 10+i)},
				},
				Spec: corev1.PodSpec{
					ReadinessGates: []corev1.PodReadinessGate{{ConditionType: gateType}},
					Containers:     []corev1.Container{{Name: "app", Image: "app:1", Ports: []corev1.ContainerPort{{ContainerPort: 8080}}}},
				},
			}
			Expect(k8s.Create(ctx, pod)).To(Succeed())
		}
		policy := &v1alpha1.ReadinessGatePolicy{
			ObjectMeta: metav1.ObjectMeta{Name: "promoted", Namespace: ns.Name},
			Spec: v1alpha1.ReadinessGatePolicySpec{
				Selector:      metav1.LabelSelector{MatchLabels: map[string]string{"app": "checkout"}},
				ConditionType: gateType,
				Expression:    "pod.metadata.labels.?promoted.orValue('') == 'yes'",
			},
		}
		Expect(k8s.Create(ctx, policy)).To(Succeed())

		By("every endpoint is listed, none ready")
		Eventually(endpoints(ctx, ns.Name)).Should(Equal(map[string]bool{"198.51.100.10": false, "198.51.100.11": false, "198.51.100.12": false}))
		Eventually(func() int32 {
			got := &v1alpha1.ReadinessGatePolicy{}
			_ = k8s.Get(ctx, client.ObjectKeyFromObject(policy), got)
			return got.Status.MatchedPods
		}).Should(BeEquivalentTo(3))

		By("promoting one pod puts exactly it into the Service")
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns.Name, Name: "checkout-1"}}
		Expect(k8s.Patch(ctx, pod, client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"labels":{"promoted":"yes"}}}`)))).To(Succeed())
		Eventually(endpoints(ctx, ns.Name)).Should(Equal(map[string]bool{"198.51.100.10": false, "198.51.100.11": true, "198.51.100.12": false}))

		By("deleting the policy releases the rest")
		Expect(k8s.Delete(ctx, policy)).To(Succeed())
		Eventually(endpoints(ctx, ns.Name)).Should(Equal(map[string]bool{"198.51.100.10": true, "198.51.100.11": true, "198.51.100.12": true}))
	})

	It("gates pods on being listed by their Service's real EndpointSlices", func(ctx SpecContext) {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "listed"}}
		Expect(k8s.Create(ctx, ns)).To(Succeed())
		policy := &v1alpha1.ReadinessGatePolicy{
			ObjectMeta: metav1.ObjectMeta{Name: "listed", Namespace: ns.Name},
			Spec: v1alpha1.ReadinessGatePolicySpec{
				Selector:      metav1.LabelSelector{MatchLabels: map[string]string{"app": "api"}},
				ConditionType: gateType,
				Expression:    `endpoints.exists(e, e.serviceName == "api" && e.ports.exists(p, p.port == 8080))`,
				Sources:       &v1alpha1.Sources{Endpoints: &v1alpha1.EndpointsSource{}},
			},
		}
		Expect(k8s.Create(ctx, policy)).To(Succeed())
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "api-0", Namespace: ns.Name, Labels: map[string]string{"app": "api"},
				Annotations: map[string]string{testenv.AnnotationPodIP: "198.51.100.30"}},
			Spec: corev1.PodSpec{
				ReadinessGates: []corev1.PodReadinessGate{{ConditionType: gateType}},
				Containers:     []corev1.Container{{Name: "app", Image: "app:1", Ports: []corev1.ContainerPort{{ContainerPort: 8080}}}},
			},
		}
		Expect(k8s.Create(ctx, pod)).To(Succeed())
		gate := func() string {
			got := &corev1.Pod{}
			_ = k8s.Get(ctx, client.ObjectKeyFromObject(pod), got)
			for _, c := range got.Status.Conditions {
				if c.Type == gateType {
					return string(c.Status) + " " + c.Reason
				}
			}
			return ""
		}
		Eventually(gate).Should(Equal("False ExpressionFalse"))

		By("a Service lists the pod, the gate opens and the endpoint turns ready")
		svc := &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: "api", Namespace: ns.Name},
			Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "api"},
				Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080)}}},
		}
		Expect(k8s.Create(ctx, svc)).To(Succeed())
		Eventually(gate).Should(Equal("True ExpressionTrue"))
		Eventually(endpoints(ctx, ns.Name)).Should(Equal(map[string]bool{"198.51.100.30": true}))
	})

	It("exports its Prometheus metrics", func(ctx SpecContext) {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "metrics"}}
		Expect(k8s.Create(ctx, ns)).To(Succeed())
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "counted", Namespace: ns.Name, Labels: map[string]string{"app": "counted"},
				Annotations: map[string]string{testenv.AnnotationPodIP: "198.51.100.40"}},
			Spec: corev1.PodSpec{
				ReadinessGates: []corev1.PodReadinessGate{{ConditionType: gateType}},
				Containers:     []corev1.Container{{Name: "app", Image: "app:1"}},
			},
		}
		Expect(k8s.Create(ctx, pod)).To(Succeed())
		Expect(k8s.Create(ctx, &v1alpha1.ReadinessGatePolicy{
			ObjectMeta: metav1.ObjectMeta{Name: "counted", Namespace: ns.Name},
			Spec: v1alpha1.ReadinessGatePolicySpec{
				Selector:      metav1.LabelSelector{MatchLabels: map[string]string{"app": "counted"}},
				ConditionType: gateType,
				Expression:    "pod.metadata.labels.?promoted.orValue('') == 'yes'",
			},
		})).To(Succeed())
		Eventually(func() string {
			got := &corev1.Pod{}
			_ = k8s.Get(ctx, client.ObjectKeyFromObject(pod), got)
			for _, c := range got.Status.Conditions {
				if c.Type == gateType {
					return string(c.Status)
				}
			}
			return ""
		}).Should(Equal("False"))
		Expect(k8s.Patch(ctx, pod, client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"labels":{"promoted":"yes"}}}`)))).To(Succeed())
		Eventually(func() string {
			resp, err := http.Get("http://" + metricsAddr + "/metrics")
			if err != nil {
				return ""
			}
			defer func() { _ = resp.Body.Close() }()
			body, _ := io.ReadAll(resp.Body)
			// Only the policy's series, so that a failure shows them whole.
			var series []string
			for line := range strings.Lines(string(body)) {
				if strings.Contains(line, `namespace="metrics"`) {
					series = append(series, line)
				}
			}
			return strings.Join(series, "")
		}).Should(And(
			ContainSubstring(`readygate_evaluations_total{namespace="metrics",policy="counted",result="true"}`),
			ContainSubstring(`readygate_gate_flips_total{namespace="metrics",policy="counted",reason="ExpressionTrue",status="True"} 1`),
			ContainSubstring(`readygate_evaluation_duration_seconds_bucket{namespace="metrics",policy="counted"`),
			ContainSubstring(`readygate_policy_pods{namespace="metrics",policy="counted",status="True"} 1`),
		))
	})
})

// endpoints maps each address of the namespace's EndpointSlices to its ready flag.
func endpoints(ctx SpecContext, ns string) func() map[string]bool {
	return func() map[string]bool {
		slices := &discoveryv1.EndpointSliceList{}
		if err := k8s.List(ctx, slices, client.InNamespace(ns)); err != nil {
			return nil
		}
		out := map[string]bool{}
		for _, s := range slices.Items {
			for _, e := range s.Endpoints {
				for _, a := range e.Addresses {
					out[a] = e.Conditions.Ready != nil && *e.Conditions.Ready
				}
			}
		}
		return out
	}
}
