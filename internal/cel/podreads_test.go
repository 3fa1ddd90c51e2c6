package cel_test

import (
	"testing"

	"github.com/readygate/readygate/internal/cel"
	"github.com/readygate/readygate/internal/podschema"
)

// TestReadsPodBody: the cache restores a pod's spec and status before an
// evaluation only for a policy that can read them, so a policy that can
// must never be taken for one that cannot.
func TestReadsPodBody(t *testing.T) {
	typed, err := podschema.CELEnv()
	if err != nil {
		t.Fatal(err)
	}
	schemaless, err := cel.NewEnv(nil)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		policy cel.Policy
		want   bool
	}{
		{"a label", cel.Policy{Expression: "pod.metadata.labels['warm'] == 'true'"}, false},
		{"name, kind and apiVersion", cel.Policy{Expression: "pod.metadata.name != '' && pod.kind == 'Pod' && pod.apiVersion == 'v1'"}, false},
		{"has() of metadata", cel.Policy{Expression: "has(pod.metadata.annotations)"}, false},
		{"no pod at all", cel.Policy{Expression: "gate.status == 'True' || now > timestamp('2020-01-01T00:00:00Z')"}, false},
		{"the spec", cel.Policy{Expression: "pod.spec.containers.size() > 0"}, true},
		{"the status", cel.Policy{Expression: "pod.status.phase == 'Running'"}, true},
		{"has() of the status", cel.Policy{Expression: "has(pod.status)"}, true},
		{"the spec, in the message", cel.Policy{Expression: "true", MessageExpression: "pod.spec.nodeName"}, true},
		{"the status, in a variable", cel.Policy{Variables: []cel.Variable{{Name: "ip", Expression: "pod.status.podIP"}}, Expression: "variables.ip != ''"}, true},
		{"the spec, in a comprehension", cel.Policy{Expression: "[1].all(i, pod.spec.hostNetwork)"}, true},
		{"the pod, whole in a variable", cel.Policy{Variables: []cel.Variable{{Name: "p", Expression: "pod"}}, Expression: "variables.p.spec.hostNetwork"}, true},
		{"the whole pod", cel.Policy{Expression: "pod != null"}, true},
		{"metadata and the status", cel.Policy{Expression: "pod.metadata.name == 'x' && pod.status.podIP == ''"}, true},
	}
	for _, env := range []struct {
		name string
		env  *cel.Env
	}{{"typed", typed}, {"schemaless", schemaless}} {
		for _, tc := range cases {
			prog, err := env.env.Compile(tc.policy, false)
			if err != nil {
				t.Errorf("%s, %s: %v", env.name, tc.name, err)
				continue
			}
			if got := prog.ReadsPodBody(); got != tc.want {
				t.Errorf("%s, %s: ReadsPodBody() = %v, want %v", env.name, tc.name, got, tc.want)
			}
		}
	}
}
