package controllers_test

import (
	"fmt"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/readygate/readygate/api/v1alpha1"
)

// maxUnavailable is a share of the pods the policy matches now. While the
// API server refuses the policy's status writes (a brownout, a webhook or
// admission policy in the way), status.matchedPods keeps the last count
// written: a cap taken from it would let every remaining pod go False
// after a scale-down.
var _ = Describe("maxUnavailable while the policy's status cannot be written", func() {
	It("counts from the pods matched now, not from the last status written", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		pods := createPods(ctx, ns, "web", 8, withGates(warmGate), withLabels("warm", "true"))
		p := newPolicy(ns, "cap", "pod.metadata.labels['warm'] == 'true'", func(p *v1alpha1.ReadinessGatePolicy) {
			p.Spec.MaxUnavailable = ptrTo(intstr.FromString("25%"))
		})
		createAndSettle(ctx, p, pods, corev1.ConditionTrue)
		Eventually(policyStatus(ctx, p)).Should(HaveField("MatchedPods", BeEquivalentTo(8)))
		refuseStatusWrites(ctx, p)

		By("scaling down to 2 pods: 25% of them is 1, of the 8 in the status 2")
		for _, pod := range pods[2:] {
			Expect(k8s.Delete(ctx, pod, client.GracePeriodSeconds(0))).To(Succeed())
		}
		Eventually(value("readygate_policy_pods", policyLabels(p, "status", "True"))).Should(BeEquivalentTo(2))
		Expect(policyStatus(ctx, p)()).To(HaveField("MatchedPods", BeEquivalentTo(8)), "the status was written after all")

		most := watchMostFalse(ctx, ns)
		for _, pod := range pods[:2] {
			setWarm(ctx, pod, "false")
		}
		Eventually(falseCount(ctx, pods[:2])).Should(Equal(1))
		Consistently(most, "3s").Should(Equal(1), "OPERATOR BUG: both remaining pods went False under a cap of 25% of 2")
	})
})

// refuseStatusWrites makes the API server refuse every write of the
// policy's status until the spec ends, with a ValidatingAdmissionPolicy.
func refuseStatusWrites(ctx SpecContext, p *v1alpha1.ReadinessGatePolicy) {
	name := "refuse-status-" + p.Namespace
	vap := &admissionregistrationv1.ValidatingAdmissionPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: admissionregistrationv1.ValidatingAdmissionPolicySpec{
			FailurePolicy: ptrTo(admissionregistrationv1.Fail),
			MatchConstraints: &admissionregistrationv1.MatchResources{ResourceRules: []admissionregistrationv1.NamedRuleWithOperations{{
				RuleWithOperations: admissionregistrationv1.RuleWithOperations{
					Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Update},
					Rule: admissionregistrationv1.Rule{APIGroups: []string{v1alpha1.GroupVersion.Group}, APIVersions: []string{"*"},
						Resources: []string{"readinessgatepolicies/status"}},
				},
			}}},
			Validations: []admissionregistrationv1.Validation{{Expression: "false", Message: "the spec refuses status writes"}},
		},
	}
	binding := &admissionregistrationv1.ValidatingAdmissionPolicyBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: admissionregistrationv1.ValidatingAdmissionPolicyBindingSpec{
			PolicyName:        name,
			ValidationActions: []admissionregistrationv1.ValidationAction{admissionregistrationv1.Deny},
			MatchResources: &admissionregistrationv1.MatchResources{NamespaceSelector: &metav1.LabelSelector{
				MatchLabels: map[string]string{"kubernetes.io/metadata.name": p.Namespace}}},
		},
	}
	Expect(k8s.Create(ctx, vap)).To(Succeed())
	DeferCleanup(func(ctx SpecContext) { Expect(k8s.Delete(ctx, vap)).To(Succeed()) })
	Expect(k8s.Create(ctx, binding)).To(Succeed())
	DeferCleanup(func(ctx SpecContext) { Expect(k8s.Delete(ctx, binding)).To(Succeed()) })
	// The API server applies them once its own informers have them.
	patch := client.RawPatch(types.MergePatchType, fmt.Appendf(nil, `{"status":{"observedGeneration":%d}}`, p.Generation))
	Eventually(func() error {
		return k8s.Status().Patch(ctx, &v1alpha1.ReadinessGatePolicy{ObjectMeta: metav1.ObjectMeta{Namespace: p.Namespace, Name: p.Name}}, patch)
	}).Should(MatchError(ContainSubstring("refuses status writes")))
}
