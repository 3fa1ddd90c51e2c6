package installtest

import (
	"context"
	"slices"
	"time"

	. "github.com/onsi/ginkgo/v2" //nolint:revive,staticcheck // the suites' DSL: this package holds their specs
	. "github.com/onsi/gomega"    //nolint:revive,staticcheck // the suites' DSL: this package holds their specs
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/readygate/readygate/api/v1alpha1"
	"github.com/readygate/readygate/internal/sources"
	"github.com/readygate/readygate/internal/testenv"
)

const gate = "readygate.io/warm"

var web = map[string]string{"app": "web"}

// DescribeInstall registers the core scenario and the metrics endpoint's specs
// against the operator installed from an install method.
func DescribeInstall(from string, inst *Installation) bool {
	DescribeCoreScenario("readygate installed from "+from, inst)
	return DescribeMetricsEndpoint("the metrics endpoint "+from+" configures", inst)
}

// DescribeCoreScenario registers the core gating scenario against the
// installation, which the suite's BeforeSuite fills in: leader election,
// validation, injection only into labelled namespaces, a gate flipping,
// policy status, Events, release on delete, Secrets read only where the
// reader role is bound, and that the manager was denied nothing it needs
// and reports a permission taken away.
func DescribeCoreScenario(what string, inst *Installation) bool {
	return Describe(what, Ordered, func() {
		s := &scenario{inst: inst, shop: "shop", plain: "plain"}

		BeforeAll(func(ctx SpecContext) {
			Expect(inst.K8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: s.shop, Labels: map[string]string{"readygate.io/inject": "enabled"}}})).To(Succeed())
			Expect(inst.K8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: s.plain}})).To(Succeed())
		})

		It("takes the leader lease in its own namespace", s.leads)
		It("rejects an invalid policy through the validating webhook", s.rejectsInvalid)
		It("accepts valid policies and adds its finalizer", s.accepts)
		It("injects the gate only into namespaces that ask for it", s.injects)
		It("gates a pod on its expression and reports it in the policy's status", s.gates)
		It("releases its gates and its finalizer when the policy is deleted", s.releases)
		It("was never denied anything it asked the API for", func() {
			Expect(inst.Logs.String()).NotTo(ContainSubstring("forbidden"))
		})
		It("reads a Prometheus token only where the Secret reader role is bound", s.readsSecretWhereBound)
		// The specs above can only pass with exactly the install's
		// permissions if a missing one shows: take one away and the manager
		// reports it.
		It("reports a missing permission", s.reportsMissingPermission)
	})
}

type scenario struct {
	inst        *Installation
	shop, plain string
}

func (s *scenario) leads(ctx SpecContext) {
	Eventually(func() error {
		return s.inst.K8s.Get(ctx, client.ObjectKey{Namespace: s.inst.Namespace, Name: "readygate.readygate.io"}, &coordinationv1.Lease{})
	}).Should(Succeed(), "the manager never led: its log (above) names what it was denied")
}

func (s *scenario) rejectsInvalid(ctx SpecContext) {
	Eventually(func() string {
		err := s.inst.K8s.Create(ctx, policy(s.shop, "bad", "pod.metadata.nosuchfield == 'x'"))
		if err == nil {
			return "created"
		}
		return err.Error()
	}).Should(And(ContainSubstring("spec.expression"), ContainSubstring("nosuchfield")))
}

func (s *scenario) accepts(ctx SpecContext) {
	for _, ns := range []string{s.shop, s.plain} {
		p := policy(ns, "warm", "has(pod.metadata.labels.warm) && pod.metadata.labels.warm == 'true'")
		Expect(s.inst.K8s.Create(ctx, p)).To(Succeed())
		Eventually(func(g Gomega) {
			got := &v1alpha1.ReadinessGatePolicy{}
			g.Expect(s.inst.K8s.Get(ctx, client.ObjectKeyFromObject(p), got)).To(Succeed())
			g.Expect(meta.IsStatusConditionTrue(got.Status.Conditions, v1alpha1.ConditionAccepted)).To(BeTrue())
			g.Expect(got.Finalizers).To(ContainElement(v1alpha1.Finalizer))
		}).Should(Succeed())
	}
}

func (s *scenario) injects(ctx SpecContext) {
	Eventually(func() []string { return testenv.ReadinessGates(s.dryRunPod(ctx, s.shop)) }).Should(Equal([]string{gate}))
	// The plain namespace's policy is accepted and in the cache as surely
	// as the shop one: only the namespace's label keeps the gate out.
	Consistently(func() []string { return testenv.ReadinessGates(s.dryRunPod(ctx, s.plain)) }, "2s").Should(BeEmpty())
}

func (s *scenario) gates(ctx SpecContext) {
	pod := s.createPod(ctx, newPod(s.shop, "web-0"))
	Expect(testenv.ReadinessGates(pod)).To(Equal([]string{gate}))
	Eventually(s.conditionOf(ctx, pod, gate)).Should(HaveField("Reason", v1alpha1.ReasonExpressionFalse))
	Expect(s.podReady(ctx, pod)).To(BeFalse())

	patch := client.MergeFrom(pod.DeepCopy())
	pod.Labels["warm"] = "true"
	Expect(s.inst.K8s.Patch(ctx, pod, patch)).To(Succeed())
	Eventually(s.conditionOf(ctx, pod, gate)).Should(HaveField("Status", corev1.ConditionTrue))
	Eventually(func() bool { return s.podReady(ctx, pod) }).Should(BeTrue())
	Eventually(func(g Gomega) {
		p := &v1alpha1.ReadinessGatePolicy{}
		g.Expect(s.inst.K8s.Get(ctx, client.ObjectKey{Namespace: s.shop, Name: "warm"}, p)).To(Succeed())
		g.Expect(p.Status.MatchedPods).To(BeEquivalentTo(1))
		g.Expect(p.Status.ReadyPods).To(BeEquivalentTo(1))
	}).Should(Succeed())
	Eventually(func() []string { return s.eventReasons(ctx, s.shop, pod.Name) }).Should(ContainElement("GateFlipped"))
}

func (s *scenario) releases(ctx SpecContext) {
	pod := s.createPod(ctx, newPod(s.shop, "web-1"))
	Eventually(s.conditionOf(ctx, pod, gate)).Should(HaveField("Status", corev1.ConditionFalse))
	Expect(s.inst.K8s.Delete(ctx, &v1alpha1.ReadinessGatePolicy{ObjectMeta: metav1.ObjectMeta{Namespace: s.shop, Name: "warm"}})).To(Succeed())
	Eventually(s.conditionOf(ctx, pod, gate)).Should(HaveField("Reason", v1alpha1.ReasonPolicyDeleted))
	Eventually(func() bool {
		return errors.IsNotFound(s.inst.K8s.Get(ctx, client.ObjectKey{Namespace: s.shop, Name: "warm"}, &v1alpha1.ReadinessGatePolicy{}))
	}).Should(BeTrue())
}

func (s *scenario) readsSecretWhereBound(ctx SpecContext) {
	k8s := s.inst.K8s
	Expect(k8s.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: s.shop, Name: "prometheus-token"},
		StringData: map[string]string{"token": "t0ken"}})).To(Succeed())
	p := policy(s.shop, "errors", "prometheus.errorRate < 0.01")
	p.Spec.Selector.MatchLabels = map[string]string{"app": "api"}
	p.Spec.ConditionType = "readygate.io/errors"
	p.Spec.Interval = &metav1.Duration{Duration: time.Second}
	p.Spec.Sources = &v1alpha1.Sources{Prometheus: &v1alpha1.PrometheusSource{
		Address:              s.inst.UnreachablePrometheus, // nothing listens: the query itself fails
		Queries:              []v1alpha1.PrometheusQuery{{Name: "errorRate", Query: `sum by (pod) (rate(http_errors_total[1m]))`}},
		BearerTokenSecretRef: &v1alpha1.SecretKeyRef{Name: "prometheus-token", Key: "token"},
	}}
	s.inst.Warnings.Take()
	Expect(k8s.Create(ctx, p)).To(Succeed())
	Expect(s.inst.Warnings.Take()).To(ContainElement(ContainSubstring(
		"spec.sources.prometheus.bearerTokenSecretRef: readygate may not read Secret prometheus-token in namespace shop")))
	pod := newPod(s.shop, "api-0")
	pod.Labels = map[string]string{"app": "api"}
	pod.Spec.ReadinessGates = []corev1.PodReadinessGate{{ConditionType: "readygate.io/errors"}}
	Expect(k8s.Create(ctx, pod)).To(Succeed())
	message := s.conditionOf(ctx, pod, "readygate.io/errors")
	Eventually(message).Should(HaveField("Message", ContainSubstring("bind the ClusterRole "+sources.SecretReaderClusterRole+" to its service account there")))

	Expect(k8s.Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Namespace: s.shop, Name: "readygate-secret-reader"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: sources.SecretReaderClusterRole},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: s.inst.ServiceAccount, Namespace: s.inst.Namespace}},
	})).To(Succeed())
	Eventually(message).Should(HaveField("Message", And(Not(BeEmpty()), Not(ContainSubstring("Secrets")))), "the token is read once the role is bound")
	// A second policy naming the Secret: the webhook still warns (the pod
	// lacks its gate), but no longer about the Secret.
	second := p.DeepCopy()
	second.ObjectMeta = metav1.ObjectMeta{Namespace: s.shop, Name: "errors-2"}
	second.Spec.ConditionType = "readygate.io/errors-2"
	Expect(k8s.Create(ctx, second)).To(Succeed())
	Expect(s.inst.Warnings.Take()).To(And(
		ContainElement(ContainSubstring("1 selected pods do not list readygate.io/errors-2")),
		Not(ContainElement(ContainSubstring("may not read Secret")))))
}

func (s *scenario) reportsMissingPermission(ctx SpecContext) {
	role := s.clusterRoleGranting(ctx, "pods/status")
	granted := role.Rules
	role.Rules = nil
	for _, r := range granted {
		if !slices.Contains(r.Resources, "pods/status") {
			role.Rules = append(role.Rules, r)
		}
	}
	Expect(s.inst.K8s.Update(ctx, role)).To(Succeed())
	DeferCleanup(func(ctx SpecContext) {
		restored := &rbacv1.ClusterRole{}
		Expect(s.inst.K8s.Get(ctx, client.ObjectKeyFromObject(role), restored)).To(Succeed())
		restored.Rules = granted
		Expect(s.inst.K8s.Update(ctx, restored)).To(Succeed())
	})

	// The plain namespace's policy selects it and has a condition to write.
	pod := newPod(s.plain, "web-2")
	pod.Spec.ReadinessGates = []corev1.PodReadinessGate{{ConditionType: gate}}
	s.createPod(ctx, pod)
	Eventually(s.inst.Logs.String).Should(MatchRegexp(`%s.{0,4} is forbidden: .*cannot patch resource .{0,4}pods/status`, pod.Name))
	Consistently(s.conditionOf(ctx, pod, gate), "1s").Should(BeZero(), "the condition was written without the permission")
}

// clusterRoleGranting is the ClusterRole bound to the operator's service
// account that grants resource.
func (s *scenario) clusterRoleGranting(ctx context.Context, resource string) *rbacv1.ClusterRole {
	bindings := &rbacv1.ClusterRoleBindingList{}
	Expect(s.inst.K8s.List(ctx, bindings)).To(Succeed())
	account := rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Name: s.inst.ServiceAccount, Namespace: s.inst.Namespace}
	for _, b := range bindings.Items {
		if !slices.Contains(b.Subjects, account) || b.RoleRef.Kind != "ClusterRole" {
			continue
		}
		role := &rbacv1.ClusterRole{}
		Expect(s.inst.K8s.Get(ctx, client.ObjectKey{Name: b.RoleRef.Name}, role)).To(Succeed())
		for _, r := range role.Rules {
			if slices.Contains(r.Resources, resource) {
				return role
			}
		}
	}
	Fail("no ClusterRole bound to the operator's service account grants " + resource)
	return nil
}

func policy(ns, name, expression string) *v1alpha1.ReadinessGatePolicy {
	return &v1alpha1.ReadinessGatePolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: v1alpha1.ReadinessGatePolicySpec{
			Selector:      metav1.LabelSelector{MatchLabels: web},
			ConditionType: gate,
			Expression:    expression,
		},
	}
}

func newPod(ns, name string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{"app": "web"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "app:1"}}},
	}
}

func (s *scenario) dryRunPod(ctx context.Context, ns string) *corev1.Pod {
	pod := newPod(ns, "probe")
	Expect(s.inst.K8s.Create(ctx, pod, client.DryRunAll)).To(Succeed())
	return pod
}

func (s *scenario) createPod(ctx context.Context, pod *corev1.Pod) *corev1.Pod {
	Expect(s.inst.K8s.Create(ctx, pod)).To(Succeed())
	return pod
}

// conditionOf polls a condition of the pod.
func (s *scenario) conditionOf(ctx context.Context, pod *corev1.Pod, conditionType corev1.PodConditionType) func() corev1.PodCondition {
	return func() corev1.PodCondition {
		got := &corev1.Pod{}
		Expect(s.inst.K8s.Get(ctx, client.ObjectKeyFromObject(pod), got)).To(Succeed())
		for _, c := range got.Status.Conditions {
			if c.Type == conditionType {
				return c
			}
		}
		return corev1.PodCondition{}
	}
}

func (s *scenario) podReady(ctx context.Context, pod *corev1.Pod) bool {
	return s.conditionOf(ctx, pod, corev1.PodReady)().Status == corev1.ConditionTrue
}

func (s *scenario) eventReasons(ctx context.Context, ns, podName string) []string {
	events := &eventsv1.EventList{}
	Expect(s.inst.K8s.List(ctx, events, client.InNamespace(ns))).To(Succeed())
	var out []string
	for _, e := range events.Items {
		if e.Regarding.Name == podName {
			out = append(out, e.Reason)
		}
	}
	return out
}
