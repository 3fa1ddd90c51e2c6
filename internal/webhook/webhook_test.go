package webhook_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"strconv"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/readygate/readygate/api/v1alpha1"
	"github.com/readygate/readygate/internal/testenv"
)

const gateType = "readygate.io/warm"

func namespace(ctx context.Context, inject bool) string {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "w-" + rand.String(6)}}
	if inject {
		ns.Labels = map[string]string{"readygate.io/inject": "enabled"}
	}
	Expect(k8s.Create(ctx, ns)).To(Succeed())
	return ns.Name
}

func newPolicy(ns, name, expression string) *v1alpha1.ReadinessGatePolicy {
	return &v1alpha1.ReadinessGatePolicy{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: v1alpha1.ReadinessGatePolicySpec{
			Selector:      metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			ConditionType: gateType,
			Expression:    expression,
		},
	}
}

// acceptedPolicy creates a policy and waits until the operator accepted it,
// since only accepted policies inject.
func acceptedPolicy(ctx context.Context, p *v1alpha1.ReadinessGatePolicy) {
	Expect(k8s.Create(ctx, p)).To(Succeed())
	Eventually(func() bool {
		got := &v1alpha1.ReadinessGatePolicy{}
		_ = k8s.Get(ctx, client.ObjectKeyFromObject(p), got)
		return meta.IsStatusConditionTrue(got.Status.Conditions, v1alpha1.ConditionAccepted)
	}).Should(BeTrue())
}

// waitUntilInjecting waits until the injector's cache has the namespace's
// policies: a dry-run pod then comes back with the gates.
func waitUntilInjecting(ctx context.Context, ns string, gates ...string) {
	Eventually(func() []string {
		probe := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "probe", Namespace: ns, Labels: web},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "app:1"}}},
		}
		if err := k8s.Create(ctx, probe, client.DryRunAll); err != nil {
			return nil
		}
		return testenv.ReadinessGates(probe)
	}).Should(ConsistOf(gates))
}

func createPod(ctx context.Context, ns, name string, labels, annotations map[string]string, gates ...string) *corev1.Pod {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels, Annotations: annotations},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "app:1"}}},
	}
	for _, g := range gates {
		pod.Spec.ReadinessGates = append(pod.Spec.ReadinessGates, corev1.PodReadinessGate{ConditionType: corev1.PodConditionType(g)})
	}
	Expect(k8s.Create(ctx, pod)).To(Succeed())
	return pod
}

var web = map[string]string{"app": "web"}

var _ = Describe("the pod injector", func() {
	It("adds the gate of every accepted policy that selects a new pod, and the operator then decides it", func(ctx SpecContext) {
		ns := namespace(ctx, true)
		acceptedPolicy(ctx, newPolicy(ns, "warm", "true"))
		other := newPolicy(ns, "zone", "true")
		other.Spec.ConditionType = "readygate.io/zone"
		acceptedPolicy(ctx, other)
		waitUntilInjecting(ctx, ns, gateType, "readygate.io/zone")

		pod := createPod(ctx, ns, "web-0", web, nil)
		Expect(testenv.ReadinessGates(pod)).To(ConsistOf(gateType, "readygate.io/zone"))
		Eventually(func() corev1.ConditionStatus {
			got := &corev1.Pod{}
			_ = k8s.Get(ctx, client.ObjectKeyFromObject(pod), got)
			for _, c := range got.Status.Conditions {
				if c.Type == corev1.PodReady {
					return c.Status
				}
			}
			return ""
		}).Should(Equal(corev1.ConditionTrue))
	})

	It("leaves alone pods no policy selects, and namespaces without the label", func(ctx SpecContext) {
		ns := namespace(ctx, true)
		acceptedPolicy(ctx, newPolicy(ns, "warm", "true"))
		waitUntilInjecting(ctx, ns, gateType)
		Expect(testenv.ReadinessGates(createPod(ctx, ns, "db-0", map[string]string{"app": "db"}, nil))).To(BeEmpty())

		plain := namespace(ctx, false)
		acceptedPolicy(ctx, newPolicy(plain, "warm", "true"))
		Expect(testenv.ReadinessGates(createPod(ctx, plain, "web-0", web, nil))).To(BeEmpty())
	})

	It("honours the opt-out annotation and is idempotent", func(ctx SpecContext) {
		ns := namespace(ctx, true)
		acceptedPolicy(ctx, newPolicy(ns, "warm", "true"))
		waitUntilInjecting(ctx, ns, gateType)
		Expect(testenv.ReadinessGates(createPod(ctx, ns, "out", web, map[string]string{"readygate.io/inject": "false"}))).To(BeEmpty())
		Expect(testenv.ReadinessGates(createPod(ctx, ns, "already", web, nil, gateType))).To(Equal([]string{gateType}))
	})

	It("does not inject the gate of a suspended policy", func(ctx SpecContext) {
		ns := namespace(ctx, true)
		p := newPolicy(ns, "warm", "true")
		p.Spec.Suspend = true
		acceptedPolicy(ctx, p)
		Expect(testenv.ReadinessGates(createPod(ctx, ns, "web-0", web, nil))).To(BeEmpty())
	})
})

var _ = Describe("the policy validator", func() {
	It("rejects expressions that do not compile, with the field, position and cause", func(ctx SpecContext) {
		ns := namespace(ctx, false)
		p := newPolicy(ns, "bad", "pod.metadata.name ==")
		p.Spec.Variables = []v1alpha1.Variable{{Name: "x", Expression: "pod.spec.nosuchfield"}}
		err := k8s.Create(ctx, p)
		Expect(err).To(MatchError(And(
			ContainSubstring("spec.variables[0].expression"),
			ContainSubstring("undefined field 'nosuchfield'"),
			ContainSubstring("spec.expression"),
			ContainSubstring("spec.expression:1:21"),
			ContainSubstring("Syntax error"),
		)))
	})

	// The operator compiles stored policies without the estimate, so that an
	// upgrade never takes an admitted policy away: admission is where it
	// judges, as the API server does.
	It("rejects an expression whose estimated cost is over the limit", func(ctx SpecContext) {
		ns := namespace(ctx, false)
		const list = "[1,2,3,4,5,6,7,8,9,10]"
		p := newPolicy(ns, "costly", list+".all(a, "+list+".all(b, "+list+".all(c, "+list+".all(d, "+list+".all(e, "+list+".all(f, true))))))")
		Expect(k8s.Create(ctx, p)).To(MatchError(And(
			ContainSubstring("spec.expression"),
			ContainSubstring("estimated cost"),
			ContainSubstring("exceeds the limit of 1000000 per expression"),
		)))
	})

	// Each policy costs the operator its compiled CEL (about 80 KiB): a
	// namespace holds at most MaxPoliciesPerNamespace, as the suite sets it.
	It("caps the policies of one namespace, and still lets them be updated and deleted", func(ctx SpecContext) {
		ns := namespace(ctx, false)
		policies := make([]*v1alpha1.ReadinessGatePolicy, 0, suitePolicyCap)
		for i := range suitePolicyCap {
			p := newPolicy(ns, fmt.Sprintf("p%d", i), "true")
			Expect(k8s.Create(ctx, p)).To(Succeed())
			policies = append(policies, p)
		}
		Expect(k8s.Create(ctx, newPolicy(ns, "one-too-many", "true"))).To(MatchError(And(
			ContainSubstring(fmt.Sprintf("namespace %s already holds %d ReadinessGatePolicies", ns, suitePolicyCap)),
			ContainSubstring("--max-policies-per-namespace"),
		)))
		updated := policies[0].DeepCopy()
		updated.Spec.Expression = "false"
		Expect(k8s.Patch(ctx, updated, client.MergeFrom(policies[0]))).To(Succeed(), "a policy at the cap stays updatable")
		Expect(k8s.Delete(ctx, policies[1])).To(Succeed())
		Eventually(func() error { return k8s.Create(ctx, newPolicy(ns, "one-too-many", "true")) }).Should(Succeed(), "room freed by a deletion")
	})

	It("lets a policy being deleted change no spec, only let go of it", func(ctx SpecContext) {
		ns := namespace(ctx, false)
		p := newPolicy(ns, "going", "true")
		p.Finalizers = []string{"test.readygate.io/hold"}
		Expect(k8s.Create(ctx, p)).To(Succeed())
		Expect(k8s.Delete(ctx, p)).To(Succeed())
		update := func(change func(*v1alpha1.ReadinessGatePolicy)) error {
			got := &v1alpha1.ReadinessGatePolicy{}
			if err := k8s.Get(ctx, client.ObjectKeyFromObject(p), got); err != nil {
				return err
			}
			change(got)
			return k8s.Update(ctx, got)
		}
		// A finalizer a tenant keeps holds the policy in deletion as long as
		// they like: its spec must not become a way around validation. The
		// operator takes its own finalizer off meanwhile, so an update may
		// meet a conflict first.
		Eventually(func() error {
			return update(func(p *v1alpha1.ReadinessGatePolicy) { p.Spec.Expression = "pod.nosuchfield" })
		}).Should(MatchError(ContainSubstring("spec: Forbidden: the policy is being deleted")))
		Eventually(func() error {
			return update(func(p *v1alpha1.ReadinessGatePolicy) { p.Finalizers = nil })
		}).Should(Succeed(), "finalizers still come off")
	})

	It("refuses a condition type that another controller owns, and says which flag reserves it", func(ctx SpecContext) {
		ns := namespace(ctx, false)
		p := newPolicy(ns, "neg", "true")
		p.Spec.ConditionType = "cloud.google.com/load-balancer-neg-ready"
		Expect(k8s.Create(ctx, p)).To(MatchError(And(
			ContainSubstring("spec.conditionType: Forbidden"),
			ContainSubstring("belongs to another controller, as readygate's --reserved-condition-types says"),
		)))
	})

	It("answers only the API server's certificate with --webhook-client-ca-file, not a made-up review", func(ctx SpecContext) {
		// Every other spec of the suite passes through the API server, which
		// presents the certificate: admission works. A caller that reaches
		// the port without it is refused before it can send a review.
		o := cp.WebhookOptions()
		review := []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"1","operation":"CREATE","namespace":"payments",` +
			`"userInfo":{"username":"someone"},"object":{"apiVersion":"readygate.io/v1alpha1","kind":"ReadinessGatePolicy"}}}`)
		forger := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // the forger trusts anything
		_, err := forger.Post(fmt.Sprintf("https://%s/validate-readygate-io-v1alpha1-readinessgatepolicy", net.JoinHostPort(o.Host, strconv.Itoa(o.Port))),
			"application/json", bytes.NewReader(review))
		Expect(err).To(MatchError(ContainSubstring("certificate required")))
	})

	It("rejects query template syntax other than {{ .Namespace }}, naming the query and the byte", func(ctx SpecContext) {
		ns := namespace(ctx, false)
		p := newPolicy(ns, "tmpl", "prometheus.q > 0.0")
		p.Spec.Sources = &v1alpha1.Sources{Prometheus: &v1alpha1.PrometheusSource{Address: "http://127.0.0.1:9",
			Queries: []v1alpha1.PrometheusQuery{{Name: "ok", Query: "up"}, {Name: "q", Query: `up{job="{{ .Job }}"}`}}}}
		Expect(k8s.Create(ctx, p)).To(MatchError(ContainSubstring(
			`spec.sources.prometheus.queries[1].query: Invalid value: "up{job=\"{{ .Job }}\"}": "{{ .Job }}\"}" at byte 8: only {{ .Namespace }} may be substituted`)))
	})

	It("rejects a bad selector", func(ctx SpecContext) {
		ns := namespace(ctx, false)
		p := newPolicy(ns, "badsel", "true")
		p.Spec.Selector = metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "app", Operator: "Near"}}}
		Expect(k8s.Create(ctx, p)).To(MatchError(ContainSubstring(`spec.selector.matchExpressions[0].operator: Invalid value: "Near": not a valid selector operator`)))
	})

	It("rejects a selector over its caps, in a message that does not repeat it", func(ctx SpecContext) {
		ns := namespace(ctx, false)
		p := newPolicy(ns, "hugesel", "true")
		values := make([]string, 60000)
		for i := range values {
			values[i] = fmt.Sprintf("v%d", i)
		}
		p.Spec.Selector = metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "app", Operator: metav1.LabelSelectorOpNotIn, Values: values}}}
		err := k8s.Create(ctx, p)
		Expect(err).To(MatchError(ContainSubstring(`spec.selector: Forbidden: 60000 values in matchExpressions together, at most 256`)))
		Expect(len(err.Error())).To(BeNumerically("<", 1024))

		By("an update that grows a small selector past the caps, the expression unchanged")
		small := newPolicy(ns, "smallsel", "true")
		Expect(k8s.Create(ctx, small)).To(Succeed())
		grown := small.DeepCopy()
		grown.Spec.Selector.MatchExpressions = p.Spec.Selector.MatchExpressions
		Expect(k8s.Patch(ctx, grown, client.MergeFrom(small))).To(MatchError(ContainSubstring(`spec.selector: Forbidden: 60000 values in matchExpressions together, at most 256`)))
	})

	It("warns about a conflicting policy and about selected pods that lack the gate", func(ctx SpecContext) {
		ns := namespace(ctx, false)
		createPod(ctx, ns, "gated", web, nil, gateType)
		createPod(ctx, ns, "ungated", web, nil)
		// The warnings read the operator's cache, which sees the pods and
		// policies a moment after they are written.
		warningsOnCreate := func(name string) func() []string {
			return func() []string {
				warnings.Take()
				if err := k8s.Create(ctx, newPolicy(ns, name, "true"), client.DryRunAll); err != nil {
					return []string{err.Error()}
				}
				return warnings.Take()
			}
		}
		Eventually(warningsOnCreate("first")).Should(ContainElement(ContainSubstring("1 selected pods do not list readygate.io/warm")))
		acceptedPolicy(ctx, newPolicy(ns, "first", "true"))
		Eventually(warningsOnCreate("second")).Should(ContainElement(ContainSubstring("policy first also decides readygate.io/warm on pod")))
	})
})

var _ = Describe("a webhook outage", Serial, func() {
	It("does not block pod creation (failurePolicy Ignore)", func(ctx SpecContext) {
		ns := namespace(ctx, true)
		acceptedPolicy(ctx, newPolicy(ns, "warm", "true"))
		waitUntilInjecting(ctx, ns, gateType)
		stopTheManager()
		DeferCleanup(startManager)
		Expect(testenv.ReadinessGates(createPod(ctx, ns, "during-outage", web, nil))).To(BeEmpty())
	})
})
