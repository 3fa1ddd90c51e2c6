package controllers

import (
	"fmt"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/readygate/readygate/api/v1alpha1"
	"github.com/readygate/readygate/internal/cel"
	"github.com/readygate/readygate/internal/gate"
	"github.com/readygate/readygate/internal/policy"
	"github.com/readygate/readygate/internal/testenv"
)

// BenchmarkTallyOfAPod measures what one pod event costs the policy
// reconcilers, which tally the pod under each policy of its namespace, as
// PolicyReconciler does: a tenant's 100 policies of one condition type at
// the selector caps, all selecting the pod. A change of any of the
// policies tallies every pod so.
func BenchmarkTallyOfAPod(b *testing.B) {
	env, err := cel.NewEnv(nil)
	if err != nil {
		b.Fatal(err)
	}
	cache := policy.NewCache(env, nil, nil)
	for _, n := range []int{10, 100} {
		peers, pod := testenv.CappedTenant(n, policy.MaxSelectorRequirements, policy.MaxSelectorValues)
		for i := range peers {
			cache.Get(&peers[i])
		}
		b.Run(fmt.Sprint(n, "policies"), func(b *testing.B) {
			for b.Loop() {
				// Each pod event is news to the recounts that follow it. Each of
				// them names its namespace's policies (peersBasisOf, about 20 µs
				// at 100 policies) once for all its pods; here once in all.
				counts := newRecounts()
				peersBasis := peersBasisOf(peers)
				owner := func(pod metav1.Object, conditionType string) *v1alpha1.ReadinessGatePolicy {
					return counts.owner(peersBasis, peers, cache.Selects, pod, conditionType)
				}
				for i := range peers {
					policy.TallyPod(cache.Get(&peers[i]), pod, owner, func(metav1.Object) gate.State { return gate.State{} })
				}
			}
		})
	}
}
