package policy

import (
	"fmt"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/readygate/readygate/api/v1alpha1"
	"github.com/readygate/readygate/internal/cel"
	"github.com/readygate/readygate/internal/testenv"
)

// BenchmarkOwnersOfAPod measures what a pod's reconcile spends finding
// the owner of each condition type of its namespace's policies, as
// PodGateReconciler does: a tenant's 100 policies of one condition type at
// the selector caps, all selecting the pod.
func BenchmarkOwnersOfAPod(b *testing.B) {
	c, pod := cappedTenant(b)
	for _, n := range []int{10, 100} {
		policies := cappedPolicies(c, n)
		b.Run(fmt.Sprint(n, "policies"), func(b *testing.B) {
			for b.Loop() {
				Owners(policies, pod, c.Selects)
			}
		})
	}
}

// cappedTenant is a policy cache and a pod whose labels every selector at
// the caps matches, each requirement matched on its last value.
func cappedTenant(b *testing.B) (*Cache, *metav1.ObjectMeta) {
	env, err := cel.NewEnv(nil)
	if err != nil {
		b.Fatal(err)
	}
	podLabels := map[string]string{}
	for _, r := range testenv.CappedSelector(MaxSelectorRequirements, MaxSelectorValues).MatchExpressions {
		podLabels[r.Key] = r.Values[len(r.Values)-1]
	}
	return NewCache(env, nil, nil), &metav1.ObjectMeta{Namespace: "ns", Name: "web", Labels: podLabels}
}

// cappedPolicies are n policies of one condition type with selectors at the caps, compiled.
func cappedPolicies(c *Cache, n int) []v1alpha1.ReadinessGatePolicy {
	sel := testenv.CappedSelector(MaxSelectorRequirements, MaxSelectorValues)
	policies := make([]v1alpha1.ReadinessGatePolicy, n)
	for i := range policies {
		policies[i] = v1alpha1.ReadinessGatePolicy{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("p%03d", i), Namespace: "ns", UID: types.UID(fmt.Sprintf("uid-%d", i)),
				Generation: 1, CreationTimestamp: metav1.NewTime(time.Unix(int64(i), 0))},
			Spec: v1alpha1.ReadinessGatePolicySpec{ConditionType: "example.com/warm", Selector: sel, Expression: "true"},
		}
		c.Get(&policies[i])
	}
	return policies
}
