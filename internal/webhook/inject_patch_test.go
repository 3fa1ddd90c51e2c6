package webhook

import (
	"encoding/json"
	"testing"

	jsonpatch "github.com/evanphx/json-patch/v5"
	corev1 "k8s.io/api/core/v1"
)

// The injector's patch must add the gates and leave every other byte of the
// pod alone: an API server newer than this build sends fields it does not
// know, and a patch computed from a re-marshalled corev1.Pod removes them.
func TestGatePatchesTouchOnlyReadinessGates(t *testing.T) {
	cases := []struct {
		name, pod, want string
		gates           []string
	}{{
		name:  "no gates yet, fields this build does not know",
		pod:   `{"spec":{"containers":[{"name":"c","futureContainerField":{"k":"v"}}],"futurePodField":true}}`,
		gates: []string{"readygate.io/a", "readygate.io/b"},
		want: `{"spec":{"containers":[{"name":"c","futureContainerField":{"k":"v"}}],"futurePodField":true,
			"readinessGates":[{"conditionType":"readygate.io/a"},{"conditionType":"readygate.io/b"}]}}`,
	}, {
		name:  "gates of its own kept first",
		pod:   `{"spec":{"readinessGates":[{"conditionType":"example.com/lb"}],"futurePodField":1}}`,
		gates: []string{"readygate.io/a"},
		want:  `{"spec":{"readinessGates":[{"conditionType":"example.com/lb"},{"conditionType":"readygate.io/a"}],"futurePodField":1}}`,
	}, {
		name:  "an explicit empty list",
		pod:   `{"spec":{"readinessGates":[]}}`,
		gates: []string{"readygate.io/a"},
		want:  `{"spec":{"readinessGates":[{"conditionType":"readygate.io/a"}]}}`,
	}, {
		name:  "a null list",
		pod:   `{"spec":{"readinessGates":null}}`,
		gates: []string{"readygate.io/a"},
		want:  `{"spec":{"readinessGates":[{"conditionType":"readygate.io/a"}]}}`,
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pod := &corev1.Pod{}
			if err := json.Unmarshal([]byte(tc.pod), pod); err != nil {
				t.Fatal(err)
			}
			ops, err := json.Marshal(gatePatches(pod, tc.gates))
			if err != nil {
				t.Fatal(err)
			}
			patch, err := jsonpatch.DecodePatch(ops)
			if err != nil {
				t.Fatalf("decoding %s: %v", ops, err)
			}
			got, err := patch.Apply([]byte(tc.pod))
			if err != nil {
				t.Fatalf("applying %s: %v", ops, err)
			}
			if !jsonpatch.Equal(got, []byte(tc.want)) {
				t.Errorf("patch %s made\n%s\nwant\n%s", ops, got, tc.want)
			}
		})
	}
}
