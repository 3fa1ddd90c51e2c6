package cel

import (
	"slices"
	"testing"
)

func TestMetricNames(t *testing.T) {
	env, err := NewEnv(nil)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		expr, message string
		vars          []Variable
		want          []string
		all           bool
	}{
		{expr: `metrics.value("a") > 1.0 && metrics.samples("b").size() > 0`, want: []string{"a", "b"}},
		{expr: `metrics.value("a", {"code": "200"}) > 1.0`, message: `"b is " + string(metrics.value("b"))`, want: []string{"a", "b"}},
		{expr: `variables.v`, vars: []Variable{{Name: "v", Expression: `metrics.value("c") > 0.0`}}, want: []string{"c"}},
		{expr: `metrics.value(pod.metadata.name) > 0.0`, all: true},
		{expr: `pod.metadata.name == "x"`},
	}
	for _, tc := range cases {
		t.Run(tc.expr, func(t *testing.T) {
			prog, err := env.Compile(Policy{Expression: tc.expr, MessageExpression: tc.message, Variables: tc.vars, Sources: []Source{MetricsSource()}}, false)
			if err != nil {
				t.Fatal(err)
			}
			names, all := prog.MetricNames()
			if all != tc.all || !slices.Equal(names, tc.want) {
				t.Fatalf("MetricNames() = %v, %v; want %v, %v", names, all, tc.want, tc.all)
			}
		})
	}
}
