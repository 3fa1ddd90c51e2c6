package controllers

import (
	"fmt"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

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
	sel := testenv.CappedSelector(policy.MaxSelectorRequirements, policy.MaxSelectorValues)
	podLabels := map[string]string{}
	for _, r := range sel.MatchExpressions {
		podLabels[r.Key] = r.Values[len(r.Values)-1]
	}
	pod := &metav1.ObjectMeta{Namespace: "ns", Name: "web", Labels: podLabels}
	for _, n := range []int{10, 100} {
		peers := make([]v1alpha1.ReadinessGatePolicy, n)
		for i := range peers {
			peers[i] = v1alpha1.ReadinessGatePolicy{
				ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("p%03d", i), Namespace: "ns", UID: types.UID(fmt.Sprintf("uid-%d", i)),
					Generation: 1, CreationTimestamp: metav1.NewTime(time.Unix(int64(i), 0))},
				Spec: v1alpha1.ReadinessGatePolicySpec{ConditionType: "example.com/warm", Selector: sel, Expression: "true"},
			}
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
