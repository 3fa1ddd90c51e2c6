package cel

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func testPod() *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web-0", Namespace: "shop", Labels: map[string]string{"app": "web", "warm": "true"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "app:1"}}},
		Status: corev1.PodStatus{
			PodIP:      "127.0.1.1",
			Conditions: []corev1.PodCondition{{Type: corev1.ContainersReady, Status: corev1.ConditionTrue}},
		},
	}
}

func mustEnv(t testing.TB) *Env {
	t.Helper()
	env, err := NewEnv(nil)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

func TestCompileErrors(t *testing.T) {
	env := mustEnv(t)
	cases := []struct {
		name   string
		policy Policy
		want   []string // substrings of the error, in order
	}{
		{"syntax error names field and position", Policy{Expression: "pod.metadata.labels['app'] =="},
			[]string{"spec.expression: compilation failed", "spec.expression:1:30", "Syntax error"}},
		{"non-bool result", Policy{Expression: "size(pod.spec.containers) + 1"},
			[]string{"spec.expression: must evaluate to bool but evaluates to int"}},
		{"undeclared variable", Policy{Expression: "http.statusCode == 200"},
			[]string{"spec.expression: compilation failed", "undeclared reference to 'http'"}},
		{"a source the policy does not declare says how to declare it", Policy{Expression: "metrics.value('x') > 0.0"},
			[]string{"undeclared reference to 'metrics'", "spec.sources.metrics is not set: declare it to read metrics"}},
		{"message must be string", Policy{Expression: "true", MessageExpression: "1 + 1"},
			[]string{"spec.messageExpression: must evaluate to string but evaluates to int"}},
		{"unknown variable", Policy{Expression: "variables.nope"},
			[]string{"undefined field 'nope'"}},
		{"variable reads a later variable", Policy{
			Variables:  []Variable{{Name: "a", Expression: "variables.b"}, {Name: "b", Expression: "true"}},
			Expression: "variables.a == true"},
			[]string{"spec.variables[0].expression", "undefined field 'b'"}},
		{"variable type flows into expression", Policy{
			Variables:  []Variable{{Name: "n", Expression: "'x'"}},
			Expression: "variables.n > 3"},
			[]string{"spec.expression", "no matching overload"}},
		{"a cost the estimate proves too high", Policy{
			Expression: "[1,2,3,4,5,6,7,8,9,10].all(a, [1,2,3,4,5,6,7,8,9,10].all(b, [1,2,3,4,5,6,7,8,9,10].all(c, [1,2,3,4,5,6,7,8,9,10].all(d, [1,2,3,4,5,6,7,8,9,10].all(e, [1,2,3,4,5,6,7,8,9,10].all(f, true))))))"},
			[]string{"spec.expression", "estimated cost", "exceeds the limit of 1000000 per expression"}},
		{"every failing field is reported", Policy{
			Variables:  []Variable{{Name: "a", Expression: "(("}},
			Expression: "1", MessageExpression: "true"},
			[]string{"spec.variables[0].expression", "spec.expression", "spec.messageExpression"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := env.Compile(tc.policy, false)
			if err == nil {
				t.Fatalf("compiled, want an error containing %q", tc.want)
			}
			var ce *CompileError
			if !errors.As(err, &ce) {
				t.Fatalf("error %T is not a *CompileError: %v", err, err)
			}
			rest := err.Error()
			for _, w := range tc.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("error %q lacks %q", err.Error(), w)
				}
				rest = rest[i+len(w):]
			}
		})
	}
}

func TestEvaluate(t *testing.T) {
	env := mustEnv(t)
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		name      string
		policy    Policy
		gate      Gate
		wantReady bool
		wantMsg   string
		wantErr   string
	}{
		{name: "label true", policy: Policy{Expression: "pod.metadata.labels['warm'] == 'true'"}, wantReady: true},
		{name: "label false", policy: Policy{Expression: "pod.metadata.labels['app'] == 'db'"}, wantReady: false},
		{name: "kubernetes library: quantity", policy: Policy{Expression: "quantity('1Gi').isGreaterThan(quantity('512Mi'))"}, wantReady: true},
		{name: "kubernetes library: ip", policy: Policy{Expression: "cidr('127.0.0.0/8').containsIP(pod.status.podIP)"}, wantReady: true},
		{name: "now and gate", policy: Policy{Expression: "gate.status == 'False' && now - gate.lastTransitionTime > duration('1m')"},
			gate: Gate{Status: "False", LastTransitionTime: now.Add(-2 * time.Minute)}, wantReady: true},
		{name: "gate without a condition", policy: Policy{Expression: "!has(gate.lastTransitionTime) && gate.status == 'Unknown'"},
			gate: Gate{Status: "Unknown"}, wantReady: true},
		{name: "variables and message", policy: Policy{
			Variables:         []Variable{{Name: "app", Expression: "pod.metadata.labels['app']"}, {Name: "isWeb", Expression: "variables.app == 'web'"}},
			Expression:        "variables.isWeb",
			MessageExpression: "'app is ' + variables.app"}, wantReady: true, wantMsg: "app is web"},
		{name: "missing key is an error", policy: Policy{Expression: "pod.metadata.labels['nope'] == 'x'"},
			wantErr: "spec.expression: no such key: nope"},
		{name: "failing variable names itself", policy: Policy{
			Variables:  []Variable{{Name: "v", Expression: "pod.metadata.annotations['x'] == 'y'"}},
			Expression: "variables.v"}, wantErr: "spec.variables[0].expression"},
		{name: "dynamic non-bool result", policy: Policy{Expression: "dyn(pod.metadata.name)"},
			wantErr: "must evaluate to bool but evaluated to string"},
		{name: "runaway cost over data of no declared size is stopped at run time", policy: Policy{
			Variables:  []Variable{{Name: "s", Expression: "(pod.metadata.name + '0123456789').split('')"}},
			Expression: "variables.s.all(a, variables.s.all(b, variables.s.all(c, variables.s.all(d, variables.s.all(e, variables.s.all(f, true))))))"},
			wantErr: "cost limit exceeded"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			prog, err := env.Compile(tc.policy, false)
			if err != nil {
				t.Fatal(err)
			}
			res, err := prog.Evaluate(context.Background(), Input{Pod: testPod(), Gate: tc.gate, Now: now})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.Ready != tc.wantReady || res.Message != tc.wantMsg {
				t.Fatalf("got ready=%v message=%q, want ready=%v message=%q", res.Ready, res.Message, tc.wantReady, tc.wantMsg)
			}
			if res.Cost <= 0 {
				t.Fatalf("cost %d was not tracked", res.Cost)
			}
		})
	}
}

func TestVariablesEvaluateOnce(t *testing.T) {
	env := mustEnv(t)
	prog, err := env.Compile(Policy{
		Variables:  []Variable{{Name: "big", Expression: "[1,2,3].map(x, x * 2).size() == 3"}},
		Expression: "variables.big && variables.big && variables.big",
	}, false)
	if err != nil {
		t.Fatal(err)
	}
	once, err := env.Compile(Policy{
		Variables:  []Variable{{Name: "big", Expression: "[1,2,3].map(x, x * 2).size() == 3"}},
		Expression: "variables.big",
	}, false)
	if err != nil {
		t.Fatal(err)
	}
	in := Input{Pod: testPod(), Now: time.Now()}
	thrice, _ := prog.Evaluate(context.Background(), in)
	single, _ := once.Evaluate(context.Background(), in)
	// Reading a variable three times must not cost three evaluations of it.
	if thrice.Cost >= 2*single.Cost {
		t.Fatalf("variable evaluated more than once: cost %d for three reads, %d for one", thrice.Cost, single.Cost)
	}
}

func TestReadsClock(t *testing.T) {
	env := mustEnv(t)
	cases := []struct {
		policy Policy
		want   bool
	}{
		{Policy{Expression: "pod.metadata.name == 'x'"}, false},
		{Policy{Expression: "now > timestamp('2020-01-01T00:00:00Z')"}, true},
		{Policy{Expression: "true", MessageExpression: "string(now)"}, true},
		{Policy{Variables: []Variable{{Name: "t", Expression: "now"}}, Expression: "true"}, true},
	}
	for _, tc := range cases {
		prog, err := env.Compile(tc.policy, false)
		if err != nil {
			t.Fatal(err)
		}
		if prog.ReadsClock() != tc.want {
			t.Errorf("%+v: ReadsClock() = %v", tc.policy, !tc.want)
		}
	}
}
