package controllers_test

import (
	"context"
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/readygate/readygate/api/v1alpha1"
	"github.com/readygate/readygate/internal/gate"
)

// A new leader shows the held count of the status while it learns which
// pods are held (the e2e spec "a restarted manager"), but not once an edit
// of the policy may have ended the holds: the status then describes
// another generation.
var _ = Describe("a new leader's held count", Serial, func() {
	var (
		pods []*corev1.Pod
		p    *v1alpha1.ReadinessGatePolicy
	)
	BeforeEach(func(ctx SpecContext) {
		ns := newNamespace(ctx)
		pods = createPods(ctx, ns, "web", 3, withGates(warmGate), withLabels("warm", "true"))
		p = newPolicy(ns, "held", "pod.metadata.labels['warm'] == 'true'", func(p *v1alpha1.ReadinessGatePolicy) {
			p.Spec.MaxUnavailable = ptrTo(intstr.FromInt32(0))
		})
		createAndSettle(ctx, p, pods, corev1.ConditionTrue)
		for _, pod := range pods {
			setWarm(ctx, pod, "false")
		}
		Eventually(policyStatus(ctx, p)).Should(HaveField("HeldPods", BeEquivalentTo(len(pods))))
		restartManager()
	})

	It("drops to 0 at once when the policy is suspended", func(ctx SpecContext) {
		updatePolicy(ctx, p, func(p *v1alpha1.ReadinessGatePolicy) { p.Spec.Suspend = true })
		Eventually(policyStatus(ctx, p), "3s").Should(And(HaveField("ObservedGeneration", Equal(p.Generation+1)), HaveField("HeldPods", BeEquivalentTo(0))),
			"a suspended policy holds nothing, yet heldPods kept the previous leader's count")
	})

	It("drops to 0 once the held pods recover after an edit, however long the edited policy's interval", func(ctx SpecContext) {
		updatePolicy(ctx, p, func(p *v1alpha1.ReadinessGatePolicy) { p.Spec.Interval.Duration = time.Hour })
		for _, pod := range pods {
			setWarm(ctx, pod, "true")
		}
		Eventually(policyStatus(ctx, p), "5s").Should(HaveField("HeldPods", BeEquivalentTo(0)),
			"every pod's expression is true again, yet heldPods kept the previous leader's count")
	})
})

// A new leader does not tell again what the Events in the cluster already
// tell (design rules 1, 8 and 12): at fleet scale, every pod held by
// maxUnavailable or missing its gate told again after a failover is a burst
// of thousands of Event writes on a control plane that may be in trouble,
// and a repeat in each pod's `kubectl describe`. The pods are gated by one
// policy, which holds their flips, and selected without their gate by
// another, so that their evaluations under the first show that the new
// leader has reconciled them. Above a failureThreshold of 1, the new leader
// learns a hold again only after as many false results.
var _ = Describe("a new leader's Events", Serial, func() {
	It("tell no pod again that it is held or missing its gate", func(ctx SpecContext) {
		const otherGate, failureThreshold = "readygate.io/other", 3
		ns := newNamespace(ctx)
		pods := createPods(ctx, ns, "web", 3, withGates(warmGate), withLabels("warm", "true"))
		held := newPolicy(ns, "held", "pod.metadata.labels['warm'] == 'true'", func(p *v1alpha1.ReadinessGatePolicy) {
			p.Spec.MaxUnavailable, p.Spec.FailureThreshold = ptrTo(intstr.FromInt32(0)), failureThreshold
		})
		createAndSettle(ctx, held, pods, corev1.ConditionTrue)
		Expect(k8s.Create(ctx, newPolicy(ns, "ungated", "true", func(p *v1alpha1.ReadinessGatePolicy) {
			p.Spec.ConditionType = otherGate
		}))).To(Succeed())
		for _, pod := range pods {
			setWarm(ctx, pod, "false")
		}
		Eventually(policyStatus(ctx, held)).Should(HaveField("HeldPods", BeEquivalentTo(len(pods))))
		told := toldEvents(ctx, ns)
		Eventually(told).Should(HaveLen(2*len(pods)), "each pod told held and missing its other gate")
		before := told()

		stopManager()
		<-managerExited
		evaluated := value("readygate_evaluations_total", policyLabels(held, "result", "false"))()
		startManager()
		// Each pod is evaluated once an interval: a round more than the
		// threshold's has each of them held again.
		Eventually(value("readygate_evaluations_total", policyLabels(held, "result", "false"))).Should(BeNumerically(">=", evaluated+float64((failureThreshold+1)*len(pods))))
		Consistently(told, "3s").Should(Equal(before),
			"OPERATOR BUG: the new leader told again the pods the previous leader's Events tell held or missing their gate")

		By("a hold that ends and begins again under the new leader is told")
		setWarm(ctx, pods[0], "true")
		Eventually(policyStatus(ctx, held)).Should(HaveField("HeldPods", BeEquivalentTo(len(pods)-1)))
		setWarm(ctx, pods[0], "false")
		Eventually(told).Should(HaveKeyWithValue(pods[0].Name+" "+gate.EventFlipDeferred, "2 objects, 2 occurrences"))
	})

	// kube-apiserver keeps no watch cache of Events unless told to
	// (--watch-cache-sizes): a field-selected list reads every Event of the
	// cluster from etcd, hundreds of thousands in a large one, to find
	// readygate's, and a list per reason read them all again, at a failover,
	// when the control plane may be in trouble.
	It("are read in one list", func(ctx SpecContext) {
		stopManager()
		<-managerExited
		before := managerEventLists.Load()
		startManager()
		// A pod missing its gate is told once the Events are read.
		ns := newNamespace(ctx)
		pod := createPods(ctx, ns, "web", 1)[0]
		Expect(k8s.Create(ctx, newPolicy(ns, "ungated", "true"))).To(Succeed())
		Eventually(func() []eventsv1.Event { return eventsAbout(ctx, ns, pod.Name) }).Should(ContainElement(HaveField("Reason", gate.EventMissingGate)))
		Expect(managerEventLists.Load()).To(Equal(before+1), "the new leader listed the Events more than once: each list reads every Event of the cluster from etcd")
	})
})

// toldEvents counts the namespace's FlipDeferred and MissingReadinessGate
// Events per pod and reason: Event objects, and occurrences in their series.
func toldEvents(ctx context.Context, ns string) func() map[string]string {
	return func() map[string]string {
		list := &eventsv1.EventList{}
		if err := k8s.List(ctx, list, client.InNamespace(ns)); err != nil {
			return nil
		}
		objects, occurrences := map[string]int{}, map[string]int32{}
		for _, e := range list.Items {
			if e.Reason != gate.EventFlipDeferred && e.Reason != gate.EventMissingGate {
				continue
			}
			key := e.Regarding.Name + " " + e.Reason
			objects[key]++
			occurrences[key]++
			if e.Series != nil {
				occurrences[key] += e.Series.Count - 1
			}
		}
		counts := make(map[string]string, len(objects))
		for key, n := range objects {
			counts[key] = fmt.Sprintf("%d objects, %d occurrences", n, occurrences[key])
		}
		return counts
	}
}
