package testenv

import (
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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
