package controllers_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/rand"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/readygate/readygate/api/v1alpha1"
	"github.com/readygate/readygate/internal/gate"
	"github.com/readygate/readygate/internal/testenv"
)

const warmGate = "readygate.io/warm"

// newNamespace creates a namespace of the spec's own.
func newNamespace(ctx context.Context) string {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "t-" + rand.String(6)}}
	Expect(k8s.Create(ctx, ns)).To(Succeed())
	return ns.Name
}

type podOpt func(*corev1.Pod)

func withLabels(kv ...string) podOpt {
	return func(p *corev1.Pod) {
		for i := 0; i+1 < len(kv); i += 2 {
			p.Labels[kv[i]] = kv[i+1]
		}
	}
}

func withGates(gates ...string) podOpt {
	return func(p *corev1.Pod) {
		for _, g := range gates {
			p.Spec.ReadinessGates = append(p.Spec.ReadinessGates, corev1.PodReadinessGate{ConditionType: corev1.PodConditionType(g)})
		}
	}
}

func withAnnotation(k, v string) podOpt {
	return func(p *corev1.Pod) {
		if p.Annotations == nil {
			p.Annotations = map[string]string{}
		}
		p.Annotations[k] = v
	}
}

// createPods creates n pods named prefix-0.. labelled app=web.
func createPods(ctx context.Context, ns, prefix string, n int, opts ...podOpt) []*corev1.Pod {
	pods := make([]*corev1.Pod, n)
	for i := range n {
		p := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-%d", prefix, i), Namespace: ns, Labels: map[string]string{"app": "web"}},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "app:1"}}},
		}
		for _, o := range opts {
			o(p)
		}
		Expect(k8s.Create(ctx, p)).To(Succeed())
		pods[i] = p
	}
	return pods
}

func newPolicy(ns, name, expression string, mutate ...func(*v1alpha1.ReadinessGatePolicy)) *v1alpha1.ReadinessGatePolicy {
	p := &v1alpha1.ReadinessGatePolicy{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: v1alpha1.ReadinessGatePolicySpec{
			Selector:         metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			ConditionType:    warmGate,
			Expression:       expression,
			Interval:         &metav1.Duration{Duration: time.Second},
			FailureThreshold: 1,
			// Most specs flip several pods at once; the cap has specs of its own.
			MaxUnavailable: ptrTo(intstr.FromString("100%")),
		},
	}
	for _, m := range mutate {
		if m != nil {
			m(p)
		}
	}
	return p
}

// gateOf returns a getter of the pod's owned condition, for Eventually. A
// pod that cannot be read is an error, never a missing condition, so that
// BeNil() passes only on a pod that was read and lacks the condition.
func gateOf(ctx context.Context, pod *corev1.Pod) func() (*corev1.PodCondition, error) {
	return conditionOf(ctx, pod, warmGate)
}

func conditionOf(ctx context.Context, pod *corev1.Pod, t string) func() (*corev1.PodCondition, error) {
	return func() (*corev1.PodCondition, error) {
		got := &corev1.Pod{}
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(pod), got); err != nil {
			return nil, err
		}
		for _, c := range got.Status.Conditions {
			if string(c.Type) == t {
				return &c, nil
			}
		}
		return nil, nil
	}
}

// kubeletSettled is whether the simulated kubelet has nothing left to write
// to the pod's Ready condition.
func kubeletSettled(ctx context.Context, pod *corev1.Pod) func() (bool, error) {
	return func() (bool, error) {
		got := &corev1.Pod{}
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(pod), got); err != nil {
			return false, err
		}
		want := testenv.KubeletReady(got)
		for _, c := range got.Status.Conditions {
			if c.Type == corev1.PodReady {
				return c.Status == want.Status && c.Reason == want.Reason && c.Message == want.Message, nil
			}
		}
		return false, nil
	}
}

func statusOf(ctx context.Context, pod *corev1.Pod) func() (corev1.ConditionStatus, error) {
	return func() (corev1.ConditionStatus, error) {
		c, err := gateOf(ctx, pod)()
		if c == nil {
			return "", err
		}
		return c.Status, nil
	}
}

// mustStatus reads the pod's gate status now; a pod that cannot be read fails the spec.
func mustStatus(ctx context.Context, pod *corev1.Pod) corev1.ConditionStatus {
	s, err := statusOf(ctx, pod)()
	Expect(err).NotTo(HaveOccurred())
	return s
}

func policyStatus(ctx context.Context, p *v1alpha1.ReadinessGatePolicy) func() v1alpha1.ReadinessGatePolicyStatus {
	return func() v1alpha1.ReadinessGatePolicyStatus {
		got := &v1alpha1.ReadinessGatePolicy{}
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(p), got); err != nil {
			return v1alpha1.ReadinessGatePolicyStatus{}
		}
		return got.Status
	}
}

func policyCondition(ctx context.Context, p *v1alpha1.ReadinessGatePolicy, t string) func() *metav1.Condition {
	return func() *metav1.Condition {
		return meta.FindStatusCondition(policyStatus(ctx, p)().Conditions, t)
	}
}

// setWarm sets the label most specs' expressions read.
func setWarm(ctx context.Context, pod *corev1.Pod, value string) {
	updatePod(ctx, pod, func(p *corev1.Pod) { p.Labels["warm"] = value })
}

func removeWarm(ctx context.Context, pod *corev1.Pod) {
	updatePod(ctx, pod, func(p *corev1.Pod) { delete(p.Labels, "warm") })
}

func updatePod(ctx context.Context, pod *corev1.Pod, mutate func(*corev1.Pod)) {
	Eventually(func() error {
		got := &corev1.Pod{}
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(pod), got); err != nil {
			return err
		}
		mutate(got)
		return k8s.Update(ctx, got)
	}).Should(Succeed())
}

// eventReasons returns the reasons of the events about the named object.
func eventReasons(ctx context.Context, ns, name string) func() []string {
	return func() []string {
		events := eventsAbout(ctx, ns, name)
		reasons := make([]string, len(events))
		for i, e := range events {
			reasons[i] = e.Reason
		}
		return reasons
	}
}

// eventsAbout lists the events about the named object; none when the list fails.
func eventsAbout(ctx context.Context, ns, name string) []eventsv1.Event {
	list := &eventsv1.EventList{}
	if err := k8s.List(ctx, list, client.InNamespace(ns)); err != nil {
		return nil
	}
	var about []eventsv1.Event
	for _, e := range list.Items {
		if e.Regarding.Name == name {
			about = append(about, e)
		}
	}
	return about
}

func resourceVersions(ctx context.Context, pods []*corev1.Pod) func() []string {
	return func() []string {
		rvs := make([]string, len(pods))
		for i, p := range pods {
			got := &corev1.Pod{}
			if err := k8s.Get(ctx, client.ObjectKeyFromObject(p), got); err == nil {
				rvs[i] = got.ResourceVersion
			}
		}
		return rvs
	}
}

// createAndSettle creates the policy and waits until every pod's gate has the status.
func createAndSettle(ctx context.Context, p *v1alpha1.ReadinessGatePolicy, pods []*corev1.Pod, status corev1.ConditionStatus) {
	Expect(k8s.Create(ctx, p)).To(Succeed())
	for _, pod := range pods {
		Eventually(statusOf(ctx, pod)).Should(Equal(status))
	}
}

// settledFalseWithFinalizer creates a policy that sets its pods False and
// waits until they are and the policy carries the operator's finalizer, so
// that its deletion goes through the release.
func settledFalseWithFinalizer(ctx context.Context, p *v1alpha1.ReadinessGatePolicy, pods []*corev1.Pod) *v1alpha1.ReadinessGatePolicy {
	createAndSettle(ctx, p, pods, corev1.ConditionFalse)
	Eventually(func() []string {
		got := &v1alpha1.ReadinessGatePolicy{}
		_ = k8s.Get(ctx, client.ObjectKeyFromObject(p), got)
		return got.Finalizers
	}).Should(ContainElement(v1alpha1.Finalizer))
	return p
}

func updatePolicy(ctx context.Context, p *v1alpha1.ReadinessGatePolicy, mutate func(*v1alpha1.ReadinessGatePolicy)) {
	Eventually(func() error {
		got := &v1alpha1.ReadinessGatePolicy{}
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(p), got); err != nil {
			return err
		}
		mutate(got)
		return k8s.Update(ctx, got)
	}).Should(Succeed())
}

// falseCount counts the pods whose gate is False.
func falseCount(ctx context.Context, pods []*corev1.Pod) func() (int, error) {
	return func() (int, error) {
		n := 0
		for _, pod := range pods {
			s, err := statusOf(ctx, pod)()
			if err != nil {
				return 0, err
			}
			if s == corev1.ConditionFalse {
				n++
			}
		}
		return n, nil
	}
}

// firstWithStatus returns the first pod whose gate has the status.
func firstWithStatus(ctx context.Context, pods []*corev1.Pod, status corev1.ConditionStatus) *corev1.Pod {
	for _, pod := range pods {
		if mustStatus(ctx, pod) == status {
			return pod
		}
	}
	Fail("no pod has the gate " + string(status))
	return nil
}

// watchMostFalse watches the namespace's pods until the spec ends and
// returns the most pods it saw with the gate False at once: every change,
// not samples, so a brief overshoot cannot slip between two polls.
func watchMostFalse(ctx context.Context, ns string) func() int {
	wc, err := client.NewWithWatch(cp.Config, client.Options{Scheme: scheme})
	Expect(err).NotTo(HaveOccurred())
	w, err := wc.Watch(ctx, &corev1.PodList{}, client.InNamespace(ns))
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(w.Stop)
	var most atomic.Int32
	go func() {
		status := map[string]corev1.ConditionStatus{}
		for ev := range w.ResultChan() {
			pod, ok := ev.Object.(*corev1.Pod)
			if !ok {
				continue
			}
			status[pod.Name] = ""
			if c := gate.Find(pod, warmGate); c != nil {
				status[pod.Name] = c.Status
			}
			n := int32(0)
			for _, s := range status {
				if s == corev1.ConditionFalse {
					n++
				}
			}
			if n > most.Load() {
				most.Store(n)
			}
		}
	}()
	return func() int { return int(most.Load()) }
}
