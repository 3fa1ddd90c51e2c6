package controllers_test

import (
	"context"
	"net/http"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/readygate/readygate/api/v1alpha1"
	"github.com/readygate/readygate/internal/gate"
)

// A tenant's endpoint that alternates 200 and 503, polled every second with
// thresholds of 1, flips its gate every second. Each flip is an Event, but
// the Events of one pod, reason and direction must form one series (a count
// on one object, as events.k8s.io aggregates them), not one object per flip:
// thousands of such pods would otherwise write thousands of Events a second
// to etcd, and the operator would keep each of them in its Event cache.
var _ = Describe("a pod whose gate flips every interval", func() {
	It("gets one Event series per direction, not an Event object per flip", func(ctx SpecContext) {
		const flips = 8
		ns := newNamespace(ctx)
		pod, srv := podWithServer(ctx, ns, "flapping")
		srv.Answer(http.StatusOK, "text/plain", "ok")
		p := newPolicy(ns, "flapping", `http.statusCode == 200`, func(p *v1alpha1.ReadinessGatePolicy) {
			p.Spec.Sources = httpSource(intstr.FromString("http"), "/")
		})
		Expect(k8s.Create(ctx, p)).To(Succeed())
		Eventually(statusOf(ctx, pod)).Should(Equal(corev1.ConditionTrue))

		for i := range flips {
			status, want := http.StatusServiceUnavailable, corev1.ConditionFalse
			if i%2 == 1 {
				status, want = http.StatusOK, corev1.ConditionTrue
			}
			srv.Answer(status, "text/plain", http.StatusText(status))
			Eventually(statusOf(ctx, pod)).Should(Equal(want))
		}

		// Both directions repeat, so both series have their second
		// occurrence written: Series set, the count at least 2.
		Eventually(flipEvents(ctx, pod)).Should(And(HaveLen(2), HaveEach(HaveField("Series", Not(BeNil())))),
			"OPERATOR BUG: %d flips of one pod made an Event object each instead of a series", flips)
		Consistently(flipEvents(ctx, pod), "2s").Should(HaveLen(2))
	})
})

// flipEvents lists the GateFlipped Events regarding the pod.
func flipEvents(ctx context.Context, pod *corev1.Pod) func() ([]eventsv1.Event, error) {
	return func() ([]eventsv1.Event, error) {
		list := &eventsv1.EventList{}
		if err := k8s.List(ctx, list, client.InNamespace(pod.Namespace)); err != nil {
			return nil, err
		}
		var flips []eventsv1.Event
		for _, e := range list.Items {
			if e.Regarding.Name == pod.Name && e.Reason == gate.EventGateFlipped {
				flips = append(flips, e)
			}
		}
		return flips, nil
	}
}
