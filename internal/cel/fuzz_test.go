package cel_test

import (
	"errors"
	"testing"

	"github.com/readygate/readygate/internal/cel"
	"github.com/readygate/readygate/internal/testenv"
)

// FuzzCompile compiles arbitrary expressions, variables and message
// expressions in the operator's environment (the Pod schema a real
// kube-apiserver serves, every source enabled): whatever a policy author
// writes, compilation must not panic, and a failure must be a *CompileError
// whose every entry names one of the policy's expression fields.
func FuzzCompile(f *testing.F) {
	env, err := testenv.CELEnv()
	if err != nil {
		f.Fatal(err)
	}
	sources := []cel.Source{cel.EndpointsSource(), cel.HTTPSource(), cel.MetricsSource(), cel.PrometheusSource([]string{"errorRate", "p99"})}
	f.Add("warm", "metrics.value('cache_warm_ratio') >= 0.95", "variables.warm && http.statusCode == 200", "'ratio ' + string(prometheus.errorRate)")
	f.Add("n", "pod.metadata.name ==", "1", "true")
	f.Fuzz(func(t *testing.T, name, variable, expression, message string) {
		policy := cel.Policy{
			Variables:         []cel.Variable{{Name: name, Expression: variable}},
			Expression:        expression,
			MessageExpression: message,
			Sources:           sources,
		}
		_, err := env.Compile(policy, false)
		if err == nil {
			return
		}
		var ce *cel.CompileError
		if !errors.As(err, &ce) {
			t.Fatalf("error %T is not a *CompileError: %v", err, err)
		}
		fields := map[string]bool{"spec.variables[0].expression": true, "spec.expression": true, "spec.messageExpression": message != ""}
		if len(ce.Errors) == 0 {
			t.Fatal("a CompileError without errors")
		}
		for _, fe := range ce.Errors {
			if !fields[fe.Field] {
				t.Errorf("error on field %q, which the policy does not have: %s", fe.Field, fe.Detail)
			}
			if fe.Detail == "" {
				t.Errorf("error on %s says nothing", fe.Field)
			}
		}
		if t.Failed() {
			t.Logf("policy: %+v", policy)
		}
	})
}
