package controllers_test

import (
	"context"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

// flipsPerSize is how many pods turn False, one at a time, at each size.
const flipsPerSize = 20

// Issue 15: a pod event must cost the policy's recount the pods it changed,
// not all the policy's pods. Each flip is waited for in the policy's status
// before the next, so that every flip gets a recount of its own: a recount
// that counted every pod would tally N pods per flip.
var _ = Describe("policy recounts", Serial, func() {
	It("tally as many pods per pod event at 1,000 pods as at 100", func(ctx SpecContext) {
		small, large := recountWorkPerFlip(ctx, 100), recountWorkPerFlip(ctx, 1000)
		GinkgoWriter.Printf("pods tallied per flip: %.1f with 100 pods, %.1f with 1,000\n", small, large)
		Expect(small).To(BeNumerically(">", 0), "the recount counter did not move: the spec measures nothing")
		// Each flip is about three pod events (the label, the condition the
		// operator writes, the Ready condition that follows); ten times the
		// pods must not cost more per flip.
		Expect(large).To(BeNumerically("<", 2*small+5),
			"OPERATOR BUG: a pod event makes the recount tally every pod of the policy (%.1f pods per flip at 100 pods, %.1f at 1,000)", small, large)
	})
})

// recountWorkPerFlip converges n gated pods under a policy, then turns
// flipsPerSize of them False one by one, and returns the pods the recounts
// tallied per flip.
func recountWorkPerFlip(ctx SpecContext, n int) float64 {
	ns := newNamespace(ctx)
	pods := createPods(ctx, ns, "web", n, withGates(warmGate), withLabels("warm", "true"))
	p := newPolicy(ns, "count", "pod.metadata.labels['warm'] == 'true'")
	Expect(k8s.Create(ctx, p)).To(Succeed())
	Eventually(policyStatus(ctx, p), "3m").Should(HaveField("ReadyPods", BeEquivalentTo(n)))
	Eventually(readyPods(ctx, ns), "3m").Should(Equal(n))
	// The simulator's Ready updates and their recounts are over.
	Eventually(recountPodsSettled(), "1m", "1s").Should(BeTrue())

	before := recountPods()
	for i, pod := range pods[:flipsPerSize] {
		setWarm(ctx, pod, "false")
		Eventually(policyStatus(ctx, p)).Should(HaveField("ReadyPods", BeEquivalentTo(n-i-1)))
	}
	return (recountPods() - before) / flipsPerSize
}

// recountPods reads the operator's count of pods tallied by recounts.
func recountPods() float64 {
	families, err := metrics.Registry.Gather()
	Expect(err).NotTo(HaveOccurred())
	for _, f := range families {
		if f.GetName() == "readygate_policy_recount_pods_total" {
			return f.GetMetric()[0].GetCounter().GetValue()
		}
	}
	Fail("no readygate_policy_recount_pods_total on the manager's registry")
	return 0
}

// recountPodsSettled reports, polled once a second, whether the recount
// counter stood still since the last poll.
func recountPodsSettled() func() bool {
	last := -1.0
	return func() bool {
		now := recountPods()
		settled := now == last
		last = now
		return settled
	}
}

// readyPods counts the namespace's pods whose Ready condition is True.
func readyPods(ctx context.Context, ns string) func() (int, error) {
	return func() (int, error) {
		list := &corev1.PodList{}
		if err := k8s.List(ctx, list, client.InNamespace(ns)); err != nil {
			return 0, err
		}
		n := 0
		for i := range list.Items {
			for _, c := range list.Items[i].Status.Conditions {
				if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
					n++
				}
			}
		}
		return n, nil
	}
}
