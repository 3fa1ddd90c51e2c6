package webhook

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/readygate/readygate/api/v1alpha1"
	"github.com/readygate/readygate/internal/policy"
	"github.com/readygate/readygate/internal/testenv"
)

// FuzzValidatePolicy runs a policy built from arbitrary strings through the
// checks the validating webhook makes without the API server (selector,
// query templates, expressions, warnings): whatever a policy author writes,
// the webhook must not panic, and every error must name a field of the spec.
func FuzzValidatePolicy(f *testing.F) {
	env, err := testenv.CELEnv()
	if err != nil {
		f.Fatal(err)
	}
	v := &PolicyValidator{Env: env}
	f.Add("shop", "app", "In", "web", "warm", "endpoints.exists(e, e.ready)", "variables.warm && prometheus.errorRate < 0.01",
		"'rate ' + string(prometheus.errorRate)", "errorRate", `sum by (pod) (rate(http_errors_total{namespace="{{ .Namespace }}"}[1m]))`)
	f.Add("", "", "Exists", "", "", "", "", "", "", "{{")
	f.Fuzz(func(t *testing.T, namespace, key, operator, value, varName, variable, expression, message, queryName, query string) {
		p := &v1alpha1.ReadinessGatePolicy{
			ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "fuzz"},
			Spec: v1alpha1.ReadinessGatePolicySpec{
				Selector: metav1.LabelSelector{
					MatchLabels:      map[string]string{key: value},
					MatchExpressions: []metav1.LabelSelectorRequirement{{Key: key, Operator: metav1.LabelSelectorOperator(operator), Values: []string{value}}},
				},
				ConditionType:     "readygate.io/fuzz",
				Variables:         []v1alpha1.Variable{{Name: varName, Expression: variable}},
				Expression:        expression,
				MessageExpression: message,
				Sources: &v1alpha1.Sources{
					Endpoints: &v1alpha1.EndpointsSource{},
					Prometheus: &v1alpha1.PrometheusSource{
						Address: "http://127.0.0.1:9090",
						Queries: []v1alpha1.PrometheusQuery{{Name: queryName, Query: query}},
					},
				},
			},
		}
		for _, fe := range fieldErrors(policy.Compile(v.Env, p, false, nil), p) {
			if !strings.HasPrefix(fe.Field, "spec.") {
				t.Errorf("error outside the spec: %v", fe)
			}
		}
		_ = policy.Warnings(p)
	})
}
