package install_test

import (
	"context"
	"fmt"
	"slices"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/readygate/readygate/api/v1alpha1"
	"github.com/readygate/readygate/internal/testenv"
)

const gate = "readygate.io/warm"

var web = map[string]string{"app": "web"}

var _ = Describe("readygate installed from the OLM bundle", Ordered, func() {
	var shop, plain string

	BeforeAll(func(ctx SpecContext) {
		shop, plain = "shop", "plain"
		Expect(k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: shop, Labels: map[string]string{"readygate.io/inject": "enabled"}}})).To(Succeed())
		Expect(k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: plain}})).To(Succeed())
	})

	It("takes the leader lease in its own namespace", func(ctx SpecContext) {
		Eventually(func() error {
			return k8s.Get(ctx, client.ObjectKey{Namespace: operatorNamespace, Name: "readygate.readygate.io"}, &coordinationv1.Lease{})
		}).Should(Succeed(), "the manager never led: its log (above) names what it was denied")
	})

	It("rejects an invalid policy through the validating webhook", func(ctx SpecContext) {
		Eventually(func() string {
			err := k8s.Create(ctx, policy(shop, "bad", "pod.metadata.nosuchfield == 'x'"))
			if err == nil {
				return "created"
			}
			return err.Error()
		}).Should(And(ContainSubstring("spec.expression"), ContainSubstring("nosuchfield")))
	})

	It("accepts valid policies and adds its finalizer", func(ctx SpecContext) {
		for _, ns := range []string{shop, plain} {
			p := policy(ns, "warm", "has(pod.metadata.labels.warm) && pod.metadata.labels.warm == 'true'")
			Expect(k8s.Create(ctx, p)).To(Succeed())
			Eventually(func(g Gomega) {
				got := &v1alpha1.ReadinessGatePolicy{}
				g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(p), got)).To(Succeed())
				g.Expect(meta.IsStatusConditionTrue(got.Status.Conditions, v1alpha1.ConditionAccepted)).To(BeTrue())
				g.Expect(got.Finalizers).To(ContainElement(v1alpha1.Finalizer))
			}).Should(Succeed())
		}
	})

	It("injects the gate only into namespaces that ask for it, with no namespaceSelector from OLM", func(ctx SpecContext) {
		Eventually(func() []string { return testenv.ReadinessGates(dryRunPod(ctx, shop)) }).Should(Equal([]string{gate}))
		// The plain namespace's policy is accepted and in the cache as surely
		// as the shop one: only the namespace's label keeps the gate out.
		Consistently(func() []string { return testenv.ReadinessGates(dryRunPod(ctx, plain)) }, "2s").Should(BeEmpty())
	})

	It("gates a pod on its expression and reports it in the policy's status", func(ctx SpecContext) {
		pod := createPod(ctx, shop, "web-0")
		Expect(testenv.ReadinessGates(pod)).To(Equal([]string{gate}))
		Eventually(conditionOf(ctx, pod)).Should(HaveField("Reason", v1alpha1.ReasonExpressionFalse))
		Expect(podReady(ctx, pod)).To(BeFalse())

		setLabel(ctx, pod, "warm", "true")
		Eventually(conditionOf(ctx, pod)).Should(HaveField("Status", corev1.ConditionTrue))
		Eventually(func() bool { return podReady(ctx, pod) }).Should(BeTrue())
		Eventually(func(g Gomega) {
			p := &v1alpha1.ReadinessGatePolicy{}
			g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: shop, Name: "warm"}, p)).To(Succeed())
			g.Expect(p.Status.MatchedPods).To(BeEquivalentTo(1))
			g.Expect(p.Status.ReadyPods).To(BeEquivalentTo(1))
		}).Should(Succeed())
		Eventually(func() []string { return eventReasons(ctx, shop, pod.Name) }).Should(ContainElement("GateFlipped"))
	})

	It("releases its gates and its finalizer when the policy is deleted", func(ctx SpecContext) {
		pod := createPod(ctx, shop, "web-1")
		Eventually(conditionOf(ctx, pod)).Should(HaveField("Status", corev1.ConditionFalse))
		Expect(k8s.Delete(ctx, &v1alpha1.ReadinessGatePolicy{ObjectMeta: metav1.ObjectMeta{Namespace: shop, Name: "warm"}})).To(Succeed())
		Eventually(conditionOf(ctx, pod)).Should(HaveField("Reason", v1alpha1.ReasonPolicyDeleted))
		Eventually(func() bool {
			return errors.IsNotFound(k8s.Get(ctx, client.ObjectKey{Namespace: shop, Name: "warm"}, &v1alpha1.ReadinessGatePolicy{}))
		}).Should(BeTrue())
	})

	It("was never denied anything it asked the API for", func() {
		Expect(logs.String()).NotTo(ContainSubstring("forbidden"))
	})

	It("reads a Prometheus token only where the Secret reader role is bound", func(ctx SpecContext) {
		Expect(k8s.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: shop, Name: "prometheus-token"},
			StringData: map[string]string{"token": "t0ken"}})).To(Succeed())
		p := policy(shop, "errors", "prometheus.errorRate < 0.01")
		p.Spec.Selector.MatchLabels = map[string]string{"app": "api"}
		p.Spec.ConditionType = "readygate.io/errors"
		p.Spec.Interval = &metav1.Duration{Duration: time.Second}
		p.Spec.Sources = &v1alpha1.Sources{Prometheus: &v1alpha1.PrometheusSource{
			Address:              unreachablePrometheus, // nothing listens: the query itself fails
			Queries:              []v1alpha1.PrometheusQuery{{Name: "errorRate", Query: `sum by (pod) (rate(http_errors_total[1m]))`}},
			BearerTokenSecretRef: &v1alpha1.SecretKeyRef{Name: "prometheus-token", Key: "token"},
		}}
		warnings.Take()
		Expect(k8s.Create(ctx, p)).To(Succeed())
		Expect(warnings.Take()).To(ContainElement(ContainSubstring(
			"spec.sources.prometheus.bearerTokenSecretRef: readygate may not read Secret prometheus-token in namespace shop")))
		pod := newPod(shop, "api-0")
		pod.Labels = map[string]string{"app": "api"}
		pod.Spec.ReadinessGates = []corev1.PodReadinessGate{{ConditionType: "readygate.io/errors"}}
		Expect(k8s.Create(ctx, pod)).To(Succeed())
		message := conditionOf(ctx, pod, "readygate.io/errors")
		Eventually(message).Should(HaveField("Message", ContainSubstring("bind the ClusterRole readygate-secret-reader to its service account there")))

		account := bundle.CSV.Spec.InstallStrategy.StrategySpec.DeploymentSpecs[0].Spec.Template.Spec.ServiceAccountName
		Expect(k8s.Create(ctx, &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Namespace: shop, Name: "readygate-secret-reader"},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "readygate-secret-reader"},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: account, Namespace: operatorNamespace}},
		})).To(Succeed())
		Eventually(message).Should(HaveField("Message", And(Not(BeEmpty()), Not(ContainSubstring("Secrets")))), "the token is read once the role is bound")
		// A second policy naming the Secret: the webhook still warns (the pod
		// lacks its gate), but no longer about the Secret.
		second := p.DeepCopy()
		second.ObjectMeta = metav1.ObjectMeta{Namespace: shop, Name: "errors-2"}
		second.Spec.ConditionType = "readygate.io/errors-2"
		Expect(k8s.Create(ctx, second)).To(Succeed())
		Expect(warnings.Take()).To(And(
			ContainElement(ContainSubstring("1 selected pods do not list readygate.io/errors-2")),
			Not(ContainElement(ContainSubstring("may not read Secret")))))
	})

	// The test above can only pass with exactly the CSV's permissions if a
	// missing one shows: take one away and the manager reports it.
	It("reports a missing permission", func(ctx SpecContext) {
		role := clusterRoleGranting("pods/status")
		granted := role.Rules
		role.Rules = nil
		for _, r := range granted {
			if !slices.Contains(r.Resources, "pods/status") {
				role.Rules = append(role.Rules, r)
			}
		}
		Expect(k8s.Update(ctx, role)).To(Succeed())
		DeferCleanup(func(ctx SpecContext) {
			restored := &rbacv1.ClusterRole{}
			Expect(k8s.Get(ctx, client.ObjectKeyFromObject(role), restored)).To(Succeed())
			restored.Rules = granted
			Expect(k8s.Update(ctx, restored)).To(Succeed())
		})

		// The plain namespace's policy selects it and has a condition to write.
		pod := createPodWithGate(ctx, plain, "web-2", gate)
		Eventually(logs.String).Should(MatchRegexp(`%s.{0,4} is forbidden: .*cannot patch resource .{0,4}pods/status`, pod.Name))
		Consistently(conditionOf(ctx, pod), "1s").Should(BeZero(), "the condition was written without the permission")
	})
})

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
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: web},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "app:1"}}},
	}
}

func dryRunPod(ctx context.Context, ns string) *corev1.Pod {
	pod := newPod(ns, "probe")
	Expect(k8s.Create(ctx, pod, client.DryRunAll)).To(Succeed())
	return pod
}

func createPod(ctx context.Context, ns, name string) *corev1.Pod {
	pod := newPod(ns, name)
	Expect(k8s.Create(ctx, pod)).To(Succeed())
	return pod
}

func createPodWithGate(ctx context.Context, ns, name, conditionType string) *corev1.Pod {
	pod := newPod(ns, name)
	pod.Spec.ReadinessGates = []corev1.PodReadinessGate{{ConditionType: corev1.PodConditionType(conditionType)}}
	Expect(k8s.Create(ctx, pod)).To(Succeed())
	return pod
}

// conditionOf polls the pod's condition of the main gate, or of another
// condition type.
func conditionOf(ctx context.Context, pod *corev1.Pod, conditionType ...corev1.PodConditionType) func() corev1.PodCondition {
	want := corev1.PodConditionType(gate)
	if len(conditionType) > 0 {
		want = conditionType[0]
	}
	return func() corev1.PodCondition {
		got := &corev1.Pod{}
		Expect(k8s.Get(ctx, client.ObjectKeyFromObject(pod), got)).To(Succeed())
		for _, c := range got.Status.Conditions {
			if c.Type == want {
				return c
			}
		}
		return corev1.PodCondition{}
	}
}

func podReady(ctx context.Context, pod *corev1.Pod) bool {
	got := &corev1.Pod{}
	Expect(k8s.Get(ctx, client.ObjectKeyFromObject(pod), got)).To(Succeed())
	for _, c := range got.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func setLabel(ctx context.Context, pod *corev1.Pod, key, value string) {
	patch := client.MergeFrom(pod.DeepCopy())
	pod.Labels[key] = value
	Expect(k8s.Patch(ctx, pod, patch)).To(Succeed())
}

func eventReasons(ctx context.Context, ns, podName string) []string {
	events := &eventsv1.EventList{}
	Expect(k8s.List(ctx, events, client.InNamespace(ns))).To(Succeed())
	var out []string
	for _, e := range events.Items {
		if e.Regarding.Name == podName {
			out = append(out, e.Reason)
		}
	}
	return out
}

// clusterRoleGranting returns the ClusterRole installed from the CSV's
// clusterPermissions that grants resource.
func clusterRoleGranting(resource string) *rbacv1.ClusterRole {
	for i := range bundle.CSV.Spec.InstallStrategy.StrategySpec.ClusterPermissions {
		role := &rbacv1.ClusterRole{}
		Expect(k8s.Get(context.Background(), client.ObjectKey{Name: fmt.Sprintf("%s-%d", bundle.CSV.Name, i)}, role)).To(Succeed())
		for _, r := range role.Rules {
			for _, res := range r.Resources {
				if res == resource {
					return role
				}
			}
		}
	}
	Fail("no ClusterRole from the CSV grants " + resource)
	return nil
}
