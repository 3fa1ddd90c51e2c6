package testenv

import (
	"fmt"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/readygate/readygate/api/v1alpha1"
)

// CappedSelector is a selector of the given requirements and values in all
// (the admission caps, policy.MaxSelectorRequirements and
// policy.MaxSelectorValues, passed in: this package is below policy's),
// each value of 50-odd bytes, on keys no test pod carries: it selects
// nothing, and each parse of it costs all a tenant's selector may.
func CappedSelector(requirements, values int) metav1.LabelSelector {
	var sel metav1.LabelSelector
	perRequirement := values / requirements
	for i := range requirements {
		vs := make([]string, perRequirement)
		for j := range vs {
			vs[j] = fmt.Sprintf("v%02d-%02d-%s", i, j, strings.Repeat("x", 50))
		}
		sel.MatchExpressions = append(sel.MatchExpressions, metav1.LabelSelectorRequirement{
			Key: fmt.Sprintf("tenant.example/k%02d", i), Operator: metav1.LabelSelectorOpIn, Values: vs,
		})
	}
	return sel
}

// CappedTenant is n policies of one condition type in namespace "ns", each
// with CappedSelector(requirements, values), and a pod of "ns" whose labels
// every such selector matches, each requirement on its last value: the
// most a tenant's policies may cost each pod event.
func CappedTenant(n, requirements, values int) ([]v1alpha1.ReadinessGatePolicy, *metav1.ObjectMeta) {
	sel := CappedSelector(requirements, values)
	podLabels := map[string]string{}
	for _, r := range sel.MatchExpressions {
		podLabels[r.Key] = r.Values[len(r.Values)-1]
	}
	policies := make([]v1alpha1.ReadinessGatePolicy, n)
	for i := range policies {
		policies[i] = v1alpha1.ReadinessGatePolicy{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("p%03d", i), Namespace: "ns", UID: types.UID(fmt.Sprintf("uid-%d", i)),
				Generation: 1, CreationTimestamp: metav1.NewTime(time.Unix(int64(i), 0))},
			Spec: v1alpha1.ReadinessGatePolicySpec{ConditionType: "example.com/warm", Selector: sel, Expression: "true"},
		}
	}
	return policies, &metav1.ObjectMeta{Namespace: "ns", Name: "web", Labels: podLabels}
}
