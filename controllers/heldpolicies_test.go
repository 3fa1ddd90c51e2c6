package controllers_test

import (
	"context"
	"fmt"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/readygate/readygate/api/v1alpha1"
	"github.com/readygate/readygate/internal/policy"
	"github.com/readygate/readygate/internal/testenv"
)

// A tenant's attack on the pod reconcilers, which every namespace shares:
// the most policies a namespace may hold (--max-policies-per-namespace),
// with selectors at the caps, held in deletion by the tenant's own
// finalizer, and pods that list their condition type as a readiness gate
// again and again (the API server takes duplicates).
const (
	heldPolicies  = 100
	gatesPerPod   = 500
	spinningPods  = 8
	heldFinalizer = "tenant.example/hold"
)

var _ = Describe("policies a tenant holds in deletion", Serial, func() {
	It("leave the pod reconcilers to other namespaces' pods", func(ctx SpecContext) {
		tenant := newNamespace(ctx)
		for i := range heldPolicies {
			holdInDeletion(ctx, newPolicy(tenant, fmt.Sprintf("held-%d", i), "true", func(p *v1alpha1.ReadinessGatePolicy) {
				p.Spec.Selector = testenv.CappedSelector(policy.MaxSelectorRequirements, policy.MaxSelectorValues)
				p.Spec.OnDelete = v1alpha1.OnDeleteRetain
			}))
		}
		gates := make([]string, gatesPerPod)
		for i := range gates {
			gates[i] = warmGate
		}
		createPods(ctx, tenant, "spin", spinningPods, withGates(gates...))

		ns := newNamespace(ctx)
		pods := createPods(ctx, ns, "bystander", 1, withGates(warmGate))
		Expect(k8s.Create(ctx, newPolicy(ns, "bystander", "true"))).To(Succeed())
		Eventually(statusOf(ctx, pods[0]), "10s").Should(Equal(corev1.ConditionTrue),
			"the reconcilers were busy with the tenant's pods: each gate of theirs parsed the selector of every policy held in deletion")
	})
})

// holdInDeletion creates the policy with the tenant's finalizer, waits for
// the operator's, deletes the policy and waits until the operator has seen
// the deletion (it takes its own finalizer off a Retain policy); the spec's
// cleanup lets it go.
func holdInDeletion(ctx context.Context, p *v1alpha1.ReadinessGatePolicy) {
	p.Finalizers = []string{heldFinalizer}
	Expect(k8s.Create(ctx, p)).To(Succeed())
	DeferCleanup(func(ctx context.Context) {
		Expect(client.IgnoreNotFound(k8s.Patch(ctx, p, client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`))))).To(Succeed())
	})
	Eventually(finalizersOf(ctx, p)).Should(ContainElement(v1alpha1.Finalizer))
	Expect(k8s.Delete(ctx, p)).To(Succeed())
	Eventually(finalizersOf(ctx, p)).Should(Equal([]string{heldFinalizer}))
}

func finalizersOf(ctx context.Context, p *v1alpha1.ReadinessGatePolicy) func() ([]string, error) {
	return func() ([]string, error) {
		got := &v1alpha1.ReadinessGatePolicy{}
		err := k8s.Get(ctx, client.ObjectKeyFromObject(p), got)
		return got.Finalizers, err
	}
}
