package testenv

import (
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/readygate/readygate/internal/policy"
)

// CappedSelector is a selector at the admission caps (32 requirements, 256
// values of 50-odd bytes) on keys no test pod carries: it selects nothing,
// and each parse of it costs all a tenant's selector may.
func CappedSelector() metav1.LabelSelector {
	var sel metav1.LabelSelector
	perRequirement := policy.MaxSelectorValues / policy.MaxSelectorRequirements
	for i := range policy.MaxSelectorRequirements {
		values := make([]string, perRequirement)
		for j := range values {
			values[j] = fmt.Sprintf("v%02d-%02d-%s", i, j, strings.Repeat("x", 50))
		}
		sel.MatchExpressions = append(sel.MatchExpressions, metav1.LabelSelectorRequirement{
			Key: fmt.Sprintf("tenant.example/k%02d", i), Operator: metav1.LabelSelectorOpIn, Values: values,
		})
	}
	return sel
}
