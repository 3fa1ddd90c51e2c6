package policy

import (
	"fmt"
	"testing"

	"github.com/readygate/readygate/internal/cel"
	"github.com/readygate/readygate/internal/testenv"
)

// BenchmarkOwnersOfAPod measures what a pod's reconcile spends finding
// the owner of each condition type of its namespace's policies, as
// PodGateReconciler does: a tenant's 100 policies of one condition type at
// the selector caps, all selecting the pod.
func BenchmarkOwnersOfAPod(b *testing.B) {
	env, err := cel.NewEnv(nil)
	if err != nil {
		b.Fatal(err)
	}
	c := NewCache(env, nil, nil)
	for _, n := range []int{10, 100} {
		policies, pod := testenv.CappedTenant(n, MaxSelectorRequirements, MaxSelectorValues)
		for i := range policies {
			c.Get(&policies[i])
		}
		b.Run(fmt.Sprint(n, "policies"), func(b *testing.B) {
			for b.Loop() {
				Owners(policies, pod, c.Selects)
			}
		})
	}
}
