package controllers_test

import (
	"slices"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/readygate/readygate/api/v1alpha1"
	"github.com/readygate/readygate/controllers"
	"github.com/readygate/readygate/internal/testenv"
)

var _ = Describe("thresholds, timeout and modes", func() {
	It("waits for successThreshold consecutive results before True and failureThreshold before False", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		pods := createPods(ctx, ns, "web", 1, withGates(warmGate), withLabels("warm", "true"))
		p := newPolicy(ns, "thresholds", "pod.metadata.labels['warm'] == 'true'", func(p *v1alpha1.ReadinessGatePolicy) {
			p.Spec.SuccessThreshold = 3
			p.Spec.FailureThreshold = 2
		})
		created := time.Now()
		Expect(k8s.Create(ctx, p)).To(Succeed())
		Eventually(gateOf(ctx, pods[0])).Should(And(HaveField("Status", corev1.ConditionFalse), HaveField("Reason", "SuccessThresholdNotMet")))
		Eventually(statusOf(ctx, pods[0])).Should(Equal(corev1.ConditionTrue))
		// Three results one interval (1s) apart: the first at once, the third about 2s later.
		Expect(time.Since(created)).To(BeNumerically(">=", 1800*time.Millisecond))

		By("one false result does not flip a True gate")
		setWarm(ctx, pods[0], "false")
		flipStart := time.Now()
		Consistently(statusOf(ctx, pods[0]), "700ms").Should(Equal(corev1.ConditionTrue))
		Eventually(statusOf(ctx, pods[0])).Should(Equal(corev1.ConditionFalse))
		Expect(time.Since(flipStart)).To(BeNumerically(">=", 900*time.Millisecond))
	})

	It("fails open with TimedOut once containers have been ready for the timeout", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		pods := createPods(ctx, ns, "web", 1, withGates(warmGate))
		p := newPolicy(ns, "timeout", "false", func(p *v1alpha1.ReadinessGatePolicy) {
			p.Spec.FailOpenAfter = &metav1.Duration{Duration: 3 * time.Second}
		})
		Expect(k8s.Create(ctx, p)).To(Succeed())
		Eventually(gateOf(ctx, pods[0])).Should(HaveField("Reason", v1alpha1.ReasonExpressionFalse))
		Eventually(gateOf(ctx, pods[0])).Should(And(HaveField("Status", corev1.ConditionTrue), HaveField("Reason", v1alpha1.ReasonTimedOut)))
		Eventually(conditionOf(ctx, pods[0], string(corev1.PodReady))).Should(HaveField("Status", corev1.ConditionTrue))
		Consistently(gateOf(ctx, pods[0]), "2s").Should(HaveField("Reason", v1alpha1.ReasonTimedOut), "a timed-out gate stays open")
	})

	It("does not time out while the containers are not ready", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		pods := createPods(ctx, ns, "web", 1, withGates(warmGate), withAnnotation(testenv.AnnotationContainersReady, "false"))
		p := newPolicy(ns, "timeout", "false", func(p *v1alpha1.ReadinessGatePolicy) {
			p.Spec.FailOpenAfter = &metav1.Duration{Duration: time.Second}
		})
		Expect(k8s.Create(ctx, p)).To(Succeed())
		Eventually(gateOf(ctx, pods[0])).Should(HaveField("Reason", v1alpha1.ReasonExpressionFalse))
		Consistently(statusOf(ctx, pods[0]), "3s").Should(Equal(corev1.ConditionFalse))
	})

	It("releases every gate True when suspended", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		pods := createPods(ctx, ns, "web", 3, withGates(warmGate))
		p := newPolicy(ns, "suspend", "false")
		createAndSettle(ctx, p, pods, corev1.ConditionFalse)
		updatePolicy(ctx, p, func(p *v1alpha1.ReadinessGatePolicy) { p.Spec.Suspend = true })
		for _, pod := range pods {
			Eventually(gateOf(ctx, pod)).Should(And(HaveField("Status", corev1.ConditionTrue), HaveField("Reason", "Suspended")))
		}
		Eventually(policyCondition(ctx, p, v1alpha1.ConditionProgressing)).Should(HaveField("Reason", v1alpha1.ReasonSuspended))
	})

	// An invalid policy writes no pod, but the break-glass switches must
	// still work: its pods may be False from before it broke, or never
	// evaluated, and DryRun never blocks traffic.
	DescribeTable("releases an invalid policy's gates when switched to",
		func(ctx SpecContext, mutate func(*v1alpha1.ReadinessGatePolicy), reason string) {
			ns := newNamespace(ctx)
			pods := createPods(ctx, ns, "web", 2, withGates(warmGate))
			p := newPolicy(ns, "broken", "false")
			createAndSettle(ctx, p, pods, corev1.ConditionFalse)
			updatePolicy(ctx, p, func(p *v1alpha1.ReadinessGatePolicy) { p.Spec.Expression = "pod.spec.nosuchfield == 'x'" })
			Eventually(policyCondition(ctx, p, v1alpha1.ConditionAccepted)).Should(HaveField("Reason", v1alpha1.ReasonInvalidExpression))
			unevaluated := createPods(ctx, ns, "late", 1, withGates(warmGate))
			updatePolicy(ctx, p, mutate)
			for _, pod := range append(pods, unevaluated...) {
				Eventually(gateOf(ctx, pod)).Should(And(HaveField("Status", corev1.ConditionTrue), HaveField("Reason", reason)), pod.Name)
			}
		},
		Entry("suspend", func(p *v1alpha1.ReadinessGatePolicy) { p.Spec.Suspend = true }, v1alpha1.ReasonSuspended),
		Entry("DryRun", func(p *v1alpha1.ReadinessGatePolicy) { p.Spec.Mode = v1alpha1.ModeDryRun }, v1alpha1.ReasonDryRun),
	)

	It("sets every gate True on delete with onDelete: Release", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		pods := createPods(ctx, ns, "web", 3, withGates(warmGate))
		p := settledFalseWithFinalizer(ctx, newPolicy(ns, "release", "false"), pods)
		Expect(k8s.Delete(ctx, p)).To(Succeed())
		for _, pod := range pods {
			Eventually(gateOf(ctx, pod)).Should(And(HaveField("Status", corev1.ConditionTrue), HaveField("Reason", v1alpha1.ReasonPolicyDeleted)))
			Eventually(conditionOf(ctx, pod, string(corev1.PodReady))).Should(HaveField("Status", corev1.ConditionTrue))
		}
		Eventually(func() error { return k8s.Get(ctx, client.ObjectKeyFromObject(p), &v1alpha1.ReadinessGatePolicy{}) }).Should(MatchError(ContainSubstring("not found")))
	})

	It("sets True the gate of a pod created with a just-deleted Release policy's gate, after the release ran", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		pods := createPods(ctx, ns, "web", 2, withGates(warmGate))
		p := settledFalseWithFinalizer(ctx, newPolicy(ns, "release", "false"), pods)
		Expect(k8s.Delete(ctx, p)).To(Succeed())
		Eventually(func() error { return k8s.Get(ctx, client.ObjectKeyFromObject(p), &v1alpha1.ReadinessGatePolicy{}) }).Should(MatchError(ContainSubstring("not found")))
		// An injector whose cache still lists the policy gives a new pod its
		// gate: no policy will ever decide it.
		late := createPods(ctx, ns, "late", 1, withGates(warmGate))[0]
		Eventually(gateOf(ctx, late)).Should(And(HaveField("Status", corev1.ConditionTrue), HaveField("Reason", v1alpha1.ReasonPolicyDeleted)))
	})

	It("sets True on delete the gates it never evaluated, as an invalid policy's", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		pods := createPods(ctx, ns, "web", 2, withGates(warmGate))
		p := newPolicy(ns, "invalid", "pod.spec.nosuchfield == 'x'")
		Expect(k8s.Create(ctx, p)).To(Succeed())
		Eventually(policyCondition(ctx, p, v1alpha1.ConditionAccepted)).Should(HaveField("Reason", v1alpha1.ReasonInvalidExpression))
		for _, pod := range pods {
			Eventually(gateOf(ctx, pod)).Should(HaveField("Reason", v1alpha1.ReasonEvaluationError), "an invalid policy holds its pods False saying why")
		}
		Expect(k8s.Delete(ctx, p)).To(Succeed())
		for _, pod := range pods {
			Eventually(gateOf(ctx, pod)).Should(And(HaveField("Status", corev1.ConditionTrue), HaveField("Reason", v1alpha1.ReasonPolicyDeleted)))
		}
	})

	// An evaluation that listed the policy before its deletion can write
	// False after the deletion's release read the pod, or the release can
	// read a cache that does not show the False yet: either way the pod would
	// stay unready with no policy to decide it (rules 7 and 13).
	DescribeTable("releases a False gate written after the deletion's release",
		func(ctx SpecContext, policyGone bool) {
			ns := newNamespace(ctx)
			pods := createPods(ctx, ns, "web", 1, withGates(warmGate))
			p := newPolicy(ns, "late", "true")
			createAndSettle(ctx, p, pods, corev1.ConditionTrue)
			const hold = "test.readygate.io/hold"
			if !policyGone {
				Eventually(func() error {
					got := &v1alpha1.ReadinessGatePolicy{}
					if err := k8s.Get(ctx, client.ObjectKeyFromObject(p), got); err != nil {
						return err
					}
					got.Finalizers = append(got.Finalizers, hold)
					return k8s.Update(ctx, got)
				}).Should(Succeed())
				DeferCleanup(func(ctx SpecContext) {
					Eventually(func() error {
						got := &v1alpha1.ReadinessGatePolicy{}
						if err := k8s.Get(ctx, client.ObjectKeyFromObject(p), got); err != nil {
							return client.IgnoreNotFound(err)
						}
						got.Finalizers = nil
						return k8s.Update(ctx, got)
					}).Should(Succeed())
				})
			}
			Expect(k8s.Delete(ctx, p)).To(Succeed())
			Eventually(func() ([]string, error) {
				got := &v1alpha1.ReadinessGatePolicy{}
				err := k8s.Get(ctx, client.ObjectKeyFromObject(p), got)
				return got.Finalizers, client.IgnoreNotFound(err)
			}).ShouldNot(ContainElement(v1alpha1.Finalizer), "the deletion's release is done")

			By("the late write of an evaluation that began before the deletion lands")
			patch := []byte(`{"status":{"conditions":[{"type":"` + warmGate + `","status":"False","reason":"` + v1alpha1.ReasonExpressionFalse +
				`","message":"late","lastTransitionTime":"` + time.Now().UTC().Format(time.RFC3339) + `"}]}}`)
			Expect(k8s.Status().Patch(ctx, pods[0], client.RawPatch(types.StrategicMergePatchType, patch))).To(Succeed())
			Eventually(gateOf(ctx, pods[0])).Should(And(HaveField("Status", corev1.ConditionTrue), HaveField("Reason", v1alpha1.ReasonPolicyDeleted)))
		},
		Entry("while the policy is still being deleted", false),
		Entry("once the policy is gone", true),
	)

	// The operator's finalizer changes start from its cache, which can be
	// behind another actor's change to the same list.
	DescribeTable("leaves another actor's finalizer change alone when its read is stale",
		func(ctx SpecContext, othersBefore, othersAfter []string) {
			ns := newNamespace(ctx)
			p := newPolicy(ns, "shared", "true", func(p *v1alpha1.ReadinessGatePolicy) { p.Finalizers = othersBefore })
			Expect(k8s.Create(ctx, p)).To(Succeed())
			DeferCleanup(func(ctx SpecContext) {
				Expect(client.IgnoreNotFound(k8s.Patch(ctx, p, client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`))))).To(Succeed())
			})
			stale := &v1alpha1.ReadinessGatePolicy{}
			Eventually(func() ([]string, error) {
				err := k8s.Get(ctx, client.ObjectKeyFromObject(p), stale)
				return stale.Finalizers, err
			}).Should(ContainElement(v1alpha1.Finalizer))

			By("another actor changes its finalizer after the operator's read")
			Eventually(func() error {
				got := &v1alpha1.ReadinessGatePolicy{}
				if err := k8s.Get(ctx, client.ObjectKeyFromObject(p), got); err != nil {
					return err
				}
				got.Finalizers = append([]string{v1alpha1.Finalizer}, othersAfter...)
				return k8s.Update(ctx, got)
			}).Should(Succeed())

			By("the operator removes its own finalizer from that read")
			before := stale.DeepCopy()
			stale.Finalizers = slices.DeleteFunc(stale.Finalizers, func(f string) bool { return f == v1alpha1.Finalizer })
			Expect(controllers.PatchFinalizers(ctx, k8s, stale, before)).To(MatchError(apierrors.IsConflict, "a conflict: the read is stale"))
			got := &v1alpha1.ReadinessGatePolicy{}
			Expect(k8s.Get(ctx, client.ObjectKeyFromObject(p), got)).To(Succeed())
			Expect(got.Finalizers).To(ConsistOf(append([]string{v1alpha1.Finalizer}, othersAfter...)), "the other actor's change stands")
		},
		Entry("one added", nil, []string{"test.readygate.io/hold"}),
		Entry("one removed", []string{"test.readygate.io/hold"}, nil),
	)

	It("leaves every gate as it is on delete with onDelete: Retain", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		pods := createPods(ctx, ns, "web", 2, withGates(warmGate))
		p := newPolicy(ns, "retain", "false", func(p *v1alpha1.ReadinessGatePolicy) { p.Spec.OnDelete = v1alpha1.OnDeleteRetain })
		createAndSettle(ctx, p, pods, corev1.ConditionFalse)
		Expect(k8s.Delete(ctx, p)).To(Succeed())
		Eventually(func() error { return k8s.Get(ctx, client.ObjectKeyFromObject(p), &v1alpha1.ReadinessGatePolicy{}) }).Should(MatchError(ContainSubstring("not found")))
		for _, pod := range pods {
			Consistently(statusOf(ctx, pod), "1s").Should(Equal(corev1.ConditionFalse))
		}
	})

	It("lets the oldest of two policies for one condition win and marks the other Conflict", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		pods := createPods(ctx, ns, "web", 2, withGates(warmGate))
		older := newPolicy(ns, "older", "true")
		createAndSettle(ctx, older, pods, corev1.ConditionTrue)
		// creationTimestamp has a resolution of one second: make sure the younger policy is younger.
		Eventually(func() time.Time { return metav1.Now().Rfc3339Copy().Time }).Should(BeTemporally(">", older.CreationTimestamp.Time))
		younger := newPolicy(ns, "younger", "false", func(p *v1alpha1.ReadinessGatePolicy) { p.Spec.MaxUnavailable = ptrTo(intstr.FromString("100%")) })
		Expect(k8s.Create(ctx, younger)).To(Succeed())
		Eventually(policyCondition(ctx, younger, v1alpha1.ConditionAccepted)).Should(And(
			HaveField("Status", metav1.ConditionFalse),
			HaveField("Reason", v1alpha1.ReasonConflict),
			HaveField("Message", ContainSubstring("older policy older")),
		))
		Expect(policyCondition(ctx, older, v1alpha1.ConditionAccepted)()).To(HaveField("Status", metav1.ConditionTrue))
		for _, pod := range pods {
			Consistently(statusOf(ctx, pod), "1500ms").Should(Equal(corev1.ConditionTrue))
		}

		By("deleting the older policy hands the pods to the younger one")
		Expect(k8s.Delete(ctx, older)).To(Succeed())
		for _, pod := range pods {
			Eventually(statusOf(ctx, pod)).Should(Equal(corev1.ConditionFalse))
		}
		Eventually(policyCondition(ctx, younger, v1alpha1.ConditionAccepted)).Should(HaveField("Status", metav1.ConditionTrue))
	})
})
