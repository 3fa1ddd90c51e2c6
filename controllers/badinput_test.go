package controllers_test

import (
	"math"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/types"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/readygate/readygate/api/v1alpha1"
)

var _ = Describe("bad input", func() {
	DescribeTable("expressions that do not compile set Accepted=False with the exact error, and the gated pods False saying so",
		func(ctx SpecContext, expression string, mutate func(*v1alpha1.ReadinessGatePolicy), wantReason string, wantMessage ...string) {
			ns := newNamespace(ctx)
			pods := createPods(ctx, ns, "web", 2, withGates(warmGate))
			p := newPolicy(ns, "bad", expression, mutate)
			Expect(k8s.Create(ctx, p)).To(Succeed())
			matchers := make([]types.GomegaMatcher, 0, 2+len(wantMessage))
			matchers = append(matchers, HaveField("Status", metav1.ConditionFalse), HaveField("Reason", wantReason))
			for _, m := range wantMessage {
				matchers = append(matchers, HaveField("Message", ContainSubstring(m)))
			}
			Eventually(policyCondition(ctx, p, v1alpha1.ConditionAccepted)).Should(And(matchers...))
			Expect(policyCondition(ctx, p, v1alpha1.ConditionReady)()).To(HaveField("Status", metav1.ConditionFalse))
			Eventually(eventReasons(ctx, ns, p.Name)).Should(ContainElement("InvalidPolicy"))
			for _, pod := range pods {
				if wantReason == v1alpha1.ReasonInvalidSelector {
					// No selector, no pods: the policy decides none.
					Consistently(gateOf(ctx, pod), "1s").Should(BeNil())
					continue
				}
				Eventually(gateOf(ctx, pod)).Should(And(HaveField("Status", corev1.ConditionFalse),
					HaveField("Reason", v1alpha1.ReasonEvaluationError), HaveField("Message", ContainSubstring(wantMessage[0]))))
			}
		},
		Entry("malformed CEL", "pod.metadata.name ==", nil, v1alpha1.ReasonInvalidExpression,
			"spec.expression: compilation failed", "spec.expression:1:21", "Syntax error"),
		Entry("a field a Pod does not have", "pod.spec.nosuchfield == 'x'", nil, v1alpha1.ReasonInvalidExpression,
			"undefined field 'nosuchfield'"),
		Entry("a non-bool result", "pod.metadata.name", nil, v1alpha1.ReasonInvalidExpression,
			"spec.expression: must evaluate to bool but evaluates to string"),
		Entry("a source the policy did not enable", "http.statusCode == 200", nil, v1alpha1.ReasonInvalidExpression,
			"undeclared reference to 'http'"),
		Entry("a bad variable", "variables.x", func(p *v1alpha1.ReadinessGatePolicy) {
			p.Spec.Variables = []v1alpha1.Variable{{Name: "x", Expression: "pod.status.nope"}}
		}, v1alpha1.ReasonInvalidExpression, "spec.variables[0].expression", "undefined field 'nope'"),
		Entry("an invalid selector", "true", func(p *v1alpha1.ReadinessGatePolicy) {
			p.Spec.Selector = metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "app", Operator: "Near", Values: []string{"web"}}}}
		}, v1alpha1.ReasonInvalidSelector, "spec.selector", "Near"),
	)

	It("turns a runaway expression into an EvaluationError on the pod", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		pods := createPods(ctx, ns, "web", 1, withGates(warmGate))
		// Over data of no declared size the estimate is unbounded, so the
		// policy is accepted and the run-time limit must stop it.
		s := "variables.s"
		expr := s + ".all(a, " + s + ".all(b, " + s + ".all(c, " + s + ".all(d, " + s + ".all(e, " + s + ".all(f, true))))))"
		Expect(k8s.Create(ctx, newPolicy(ns, "runaway", expr, func(p *v1alpha1.ReadinessGatePolicy) {
			p.Spec.Variables = []v1alpha1.Variable{{Name: "s", Expression: "(pod.metadata.name + '0123456789').split('')"}}
		}))).To(Succeed())
		Eventually(gateOf(ctx, pods[0])).Should(And(
			HaveField("Status", corev1.ConditionFalse),
			HaveField("Reason", v1alpha1.ReasonEvaluationError),
			HaveField("Message", ContainSubstring("cost limit exceeded")),
		))
	})

	It("reports a missing key as an EvaluationError and never flips a True gate (onError: Hold)", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		pods := createPods(ctx, ns, "web", 1, withGates(warmGate), withLabels("warm", "true"))
		p := newPolicy(ns, "missing-key", "pod.metadata.labels['warm'] == 'true'", func(p *v1alpha1.ReadinessGatePolicy) {
			p.Spec.FailureThreshold = 1
		})
		Expect(k8s.Create(ctx, p)).To(Succeed())
		Eventually(statusOf(ctx, pods[0])).Should(Equal(corev1.ConditionTrue))
		removeWarm(ctx, pods[0])
		// onError: Hold: the gate holds True, the policy counts it as stale
		// and tells so once.
		Eventually(policyStatus(ctx, p)).Should(HaveField("StaleDataPods", BeEquivalentTo(1)))
		Eventually(eventReasons(ctx, ns, p.Name)).Should(ContainElement("GatesHeldOnStaleData"))
		Consistently(statusOf(ctx, pods[0]), "2s").Should(Equal(corev1.ConditionTrue))

		other := createPods(ctx, ns, "fresh", 1, withGates(warmGate), withLabels("other", "1"))
		Eventually(gateOf(ctx, other[0])).Should(And(
			HaveField("Status", corev1.ConditionFalse),
			HaveField("Reason", v1alpha1.ReasonEvaluationError),
			HaveField("Message", ContainSubstring("no such key: warm")),
		))
	})

	DescribeTable("the CRD rejects bad fields at admission",
		func(ctx SpecContext, mutate func(*v1alpha1.ReadinessGatePolicy), want string) {
			ns := newNamespace(ctx)
			err := k8s.Create(ctx, newPolicy(ns, "rejected", "true", mutate))
			Expect(err).To(MatchError(ContainSubstring(want)))
		},
		Entry("conditionType not a qualified name", func(p *v1alpha1.ReadinessGatePolicy) { p.Spec.ConditionType = "not a name!" }, "spec.conditionType"),
		Entry("an unprefixed conditionType", func(p *v1alpha1.ReadinessGatePolicy) { p.Spec.ConditionType = "warm" }, "conditionType must be domain-prefixed"),
		Entry("a conditionType in the kubernetes.io domain", func(p *v1alpha1.ReadinessGatePolicy) { p.Spec.ConditionType = "pods.kubernetes.io/x" }, "must not use the kubernetes.io or k8s.io domains"),
		Entry("an unknown onError", func(p *v1alpha1.ReadinessGatePolicy) { p.Spec.OnError = "Ignore" }, `spec.onError: Unsupported value: "Ignore"`),
		Entry("a negative maxUnavailable", func(p *v1alpha1.ReadinessGatePolicy) {
			p.Spec.MaxUnavailable = ptrTo(intstr.FromInt32(-1))
		}, "spec.maxUnavailable: Invalid value"),
		Entry("an interval below 1s", func(p *v1alpha1.ReadinessGatePolicy) {
			p.Spec.Interval = &metav1.Duration{Duration: 100 * time.Millisecond}
		}, "interval must be between 1s and 1h"),
		Entry("a zero successThreshold", func(p *v1alpha1.ReadinessGatePolicy) { p.Spec.SuccessThreshold = -1 }, "spec.successThreshold"),
		Entry("an unknown mode", func(p *v1alpha1.ReadinessGatePolicy) { p.Spec.Mode = "Sometimes" }, "spec.mode"),
		Entry("an empty expression", func(p *v1alpha1.ReadinessGatePolicy) { p.Spec.Expression = "" }, "spec.expression"),
		Entry("a bad maxUnavailable", func(p *v1alpha1.ReadinessGatePolicy) {
			p.Spec.MaxUnavailable = ptrTo(intstr.FromString("150%"))
		}, "maxUnavailable must be a count from 0 to 2147483647 or a percentage from 0% to 100%"),
		Entry("a failOpenAfter shorter than the interval", func(p *v1alpha1.ReadinessGatePolicy) {
			p.Spec.Interval = &metav1.Duration{Duration: 10 * time.Second}
			p.Spec.FailOpenAfter = &metav1.Duration{Duration: 2 * time.Second}
		}, "failOpenAfter must not be shorter than interval"),
		Entry("a variable name that is not an identifier", func(p *v1alpha1.ReadinessGatePolicy) {
			p.Spec.Variables = []v1alpha1.Variable{{Name: "a-b", Expression: "true"}}
		}, "spec.variables[0].name"),
	)
})

// A stored policy the operator cannot decode fails the list of every
// policy: its informer would stop, and with it every tenant's gates.
var _ = It("rejects a maxUnavailable count the operator could not read, which would stop it reading every policy", func(ctx SpecContext) {
	obj := rawPolicy(newNamespace(ctx), "overflow", "maxUnavailable", int64(math.MaxInt32)+1)
	Expect(k8s.Create(ctx, obj)).To(MatchError(ContainSubstring("maxUnavailable must be a count from 0 to 2147483647")))
	Expect(k8s.List(ctx, &v1alpha1.ReadinessGatePolicyList{})).To(Succeed())
})

var _ = It("rejects an unknown field under strict field validation, as kubectl applies it", func(ctx SpecContext) {
	obj := rawPolicy(newNamespace(ctx), "typo", "sucessThreshold", 2)
	Expect(k8s.Create(ctx, obj, client.FieldValidation("Strict"))).To(MatchError(ContainSubstring(`unknown field "spec.sucessThreshold"`)))
})

// rawPolicy is a policy of the namespace selecting every pod, as JSON with
// one more field in its spec, which the Go types may not hold.
func rawPolicy(ns, name, field string, value any) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "readygate.io/v1alpha1", "kind": "ReadinessGatePolicy",
		"metadata": map[string]any{"name": name, "namespace": ns},
		"spec": map[string]any{
			"selector": map[string]any{}, "conditionType": "readygate.io/x", "expression": "true",
			field: value,
		},
	}}
}

func ptrTo[T any](v T) *T { return &v }
