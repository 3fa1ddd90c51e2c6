package testenv_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/readygate/readygate/internal/testenv"
)

const gateType = "readygate.io/test"

func newPod(name string, annotations map[string]string, gates ...string) *corev1.Pod {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", Annotations: annotations},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "app:1"}}},
	}
	for _, g := range gates {
		pod.Spec.ReadinessGates = append(pod.Spec.ReadinessGates, corev1.PodReadinessGate{ConditionType: corev1.PodConditionType(g)})
	}
	return pod
}

func condition(ctx context.Context, pod *corev1.Pod, t corev1.PodConditionType) func() *corev1.PodCondition {
	return func() *corev1.PodCondition {
		got := &corev1.Pod{}
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(pod), got); err != nil {
			return nil
		}
		for _, c := range got.Status.Conditions {
			if c.Type == t {
				return &c
			}
		}
		return nil
	}
}

func statusOf(c *corev1.PodCondition) corev1.ConditionStatus {
	if c == nil {
		return ""
	}
	return c.Status
}

// setGate writes the gate condition the way the operator does: a strategic
// merge patch of one condition on pods/status.
func setGate(ctx context.Context, pod *corev1.Pod, status corev1.ConditionStatus) {
	data, err := json.Marshal(map[string]any{"status": map[string]any{"conditions": []corev1.PodCondition{{
		Type: gateType, Status: status, Reason: "Test", LastTransitionTime: metav1.Now(),
	}}}})
	Expect(err).NotTo(HaveOccurred())
	Expect(k8s.Status().Patch(ctx, pod, client.RawPatch(types.StrategicMergePatchType, data))).To(Succeed())
}

var _ = Describe("the control plane", func() {
	It("patches a custom condition through the pods/status subresource", func(ctx SpecContext) {
		pod := newPod("status-subresource", nil, gateType)
		Expect(k8s.Create(ctx, pod)).To(Succeed())
		setGate(ctx, pod, corev1.ConditionTrue)
		Eventually(condition(ctx, pod, gateType)).Should(HaveField("Status", corev1.ConditionTrue))
		Expect(condition(ctx, pod, gateType)()).To(HaveField("Reason", "Test"))
	})
})

var _ = Describe("the pod simulator", func() {
	It("runs a pod on a loopback IP with its containers ready", func(ctx SpecContext) {
		pod := newPod("plain", nil)
		Expect(k8s.Create(ctx, pod)).To(Succeed())
		Eventually(condition(ctx, pod, corev1.PodReady)).Should(HaveField("Status", corev1.ConditionTrue))
		got := &corev1.Pod{}
		Expect(k8s.Get(ctx, client.ObjectKeyFromObject(pod), got)).To(Succeed())
		Expect(got.Status.Phase).To(Equal(corev1.PodRunning))
		Expect(strings.HasPrefix(got.Status.PodIP, "127.0.")).To(BeTrue(), "pod IP %s is not loopback", got.Status.PodIP)
		Expect(got.Status.ContainerStatuses).To(ConsistOf(HaveField("Ready", true)))
	})

	It("gives every pod its own IP, or the one a test chooses", func(ctx SpecContext) {
		a, b := newPod("ip-a", nil), newPod("ip-b", map[string]string{testenv.AnnotationPodIP: "198.51.100.7"})
		Expect(k8s.Create(ctx, a)).To(Succeed())
		Expect(k8s.Create(ctx, b)).To(Succeed())
		ipOf := func(p *corev1.Pod) func() string {
			return func() string {
				got := &corev1.Pod{}
				_ = k8s.Get(ctx, client.ObjectKeyFromObject(p), got)
				return got.Status.PodIP
			}
		}
		Eventually(ipOf(b)).Should(Equal("198.51.100.7"))
		Eventually(ipOf(a)).ShouldNot(BeEmpty())
		Expect(ipOf(a)()).NotTo(Equal("198.51.100.7"))
	})

	It("holds a pod with an unmet readiness gate out of Ready, as the kubelet does", func(ctx SpecContext) {
		pod := newPod("gated", nil, gateType)
		Expect(k8s.Create(ctx, pod)).To(Succeed())
		Eventually(condition(ctx, pod, corev1.ContainersReady)).Should(HaveField("Status", corev1.ConditionTrue))
		Eventually(condition(ctx, pod, corev1.PodReady)).Should(And(
			HaveField("Status", corev1.ConditionFalse),
			HaveField("Reason", "ReadinessGatesNotReady"),
			HaveField("Message", `corresponding condition of pod readiness gate "readygate.io/test" does not exist.`),
		))

		By("setting the gate condition False")
		setGate(ctx, pod, corev1.ConditionFalse)
		Eventually(condition(ctx, pod, corev1.PodReady)).Should(HaveField("Message", `the status of pod readiness gate "readygate.io/test" is not "True", but False`))

		By("setting the gate condition True")
		setGate(ctx, pod, corev1.ConditionTrue)
		Eventually(func() corev1.ConditionStatus { return statusOf(condition(ctx, pod, corev1.PodReady)()) }).Should(Equal(corev1.ConditionTrue))
		Expect(condition(ctx, pod, corev1.PodReady)()).To(And(HaveField("Reason", ""), HaveField("Message", "")),
			"a Ready pod carries no reason, as under the kubelet, whose status updates replace the conditions")
		Expect(condition(ctx, pod, gateType)()).To(HaveField("Reason", "Test"), "the simulator must not touch the gate's condition")

		By("deleting the gate condition")
		// An update with the resourceVersion read, retried if the simulator wrote in between.
		Eventually(func() error {
			got := &corev1.Pod{}
			if err := k8s.Get(ctx, client.ObjectKeyFromObject(pod), got); err != nil {
				return err
			}
			var kept []corev1.PodCondition
			for _, c := range got.Status.Conditions {
				if c.Type != gateType {
					kept = append(kept, c)
				}
			}
			got.Status.Conditions = kept
			return k8s.Status().Update(ctx, got)
		}).Should(Succeed())
		Eventually(condition(ctx, pod, corev1.PodReady)).Should(And(
			HaveField("Status", corev1.ConditionFalse),
			HaveField("Reason", "ReadinessGatesNotReady"),
		))
	})

	It("keeps containers unready when a test asks", func(ctx SpecContext) {
		pod := newPod("unready", map[string]string{testenv.AnnotationContainersReady: "false"}, gateType)
		Expect(k8s.Create(ctx, pod)).To(Succeed())
		Eventually(condition(ctx, pod, corev1.PodReady)).Should(And(
			HaveField("Status", corev1.ConditionFalse),
			HaveField("Reason", "ContainersNotReady"),
		))
		setGate(ctx, pod, corev1.ConditionTrue)
		Consistently(func() corev1.ConditionStatus { return statusOf(condition(ctx, pod, corev1.PodReady)()) }, "1s").Should(Equal(corev1.ConditionFalse))

		By("making the containers ready")
		patch := `{"metadata":{"annotations":{"` + testenv.AnnotationContainersReady + `":"true"}}}`
		Expect(k8s.Patch(ctx, pod, client.RawPatch(types.MergePatchType, []byte(patch)))).To(Succeed())
		Eventually(func() corev1.ConditionStatus { return statusOf(condition(ctx, pod, corev1.PodReady)()) }).Should(Equal(corev1.ConditionTrue))
		Expect(condition(ctx, pod, corev1.PodReady)()).To(And(HaveField("Reason", ""), HaveField("Message", "")),
			"a Ready pod carries no reason, as under the kubelet, whose status updates replace the conditions")
	})
})

var _ = Describe("the pod simulator, racing a test that finishes pods", func() {
	// A pod a test finishes while the simulator answers its gate's flip must
	// stay finished: the API server would accept the simulator's "Running"
	// computed from the pod before it finished, as it accepts any phase.
	It("never brings a finished pod back to Running", func(ctx SpecContext) {
		const pods = 30
		finished := make([]*corev1.Pod, 0, pods)
		for i := range pods {
			pod := newPod(fmt.Sprintf("finished-%d", i), nil, gateType)
			Expect(k8s.Create(ctx, pod)).To(Succeed())
			finished = append(finished, pod)
		}
		for _, pod := range finished {
			Eventually(condition(ctx, pod, corev1.ContainersReady)).Should(HaveField("Status", corev1.ConditionTrue))
		}
		for _, pod := range finished {
			// The flip has the simulator compute a new Ready condition, with
			// the phase, while the pod finishes.
			setGate(ctx, pod, corev1.ConditionTrue)
			Expect(k8s.Status().Patch(ctx, pod, client.RawPatch(types.MergePatchType, []byte(`{"status":{"phase":"Succeeded"}}`)))).To(Succeed())
		}
		phases := func() []corev1.PodPhase {
			out := make([]corev1.PodPhase, 0, pods)
			for _, pod := range finished {
				got := &corev1.Pod{}
				Expect(k8s.Get(ctx, client.ObjectKeyFromObject(pod), got)).To(Succeed())
				out = append(out, got.Status.Phase)
			}
			return out
		}
		Consistently(phases, "2s", "100ms").Should(HaveEach(corev1.PodSucceeded))
	})
})
