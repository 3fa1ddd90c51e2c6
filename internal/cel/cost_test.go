package cel

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestValuesPayForTheirSize: cel-go charges a call whose operands are dyn
// by the first overload its checker found (add_int64 for `+`: 1), whatever
// the values are. Ten doublings of a 64 KiB annotation built 64 MiB for a
// cost of 70; thirty-two, allowed as variables, would build 256 TiB. Every
// value a call makes must cost its size, as the typed call's does.
func TestValuesPayForTheirSize(t *testing.T) {
	env := mustEnv(t)
	pod := testPod()
	pod.Annotations = map[string]string{"x": strings.Repeat("x", 64<<10)}
	doubled := func(base, step string) Policy {
		vars := []Variable{{Name: "v0", Expression: base}}
		for i := 1; i <= 10; i++ {
			prev := fmt.Sprintf("variables.v%d", i-1)
			vars = append(vars, Variable{Name: fmt.Sprintf("v%d", i), Expression: strings.ReplaceAll(step, "V", prev)})
		}
		return Policy{Variables: vars, Expression: "size(variables.v10) > 0"}
	}
	for _, tc := range []struct {
		name   string
		policy Policy
	}{
		{"typed strings", doubled("pod.metadata.annotations['x']", "V + V")},
		{"dyn strings", doubled("pod.metadata.annotations['x']", "dyn(V) + dyn(V)")},
		{"dyn strings joined", doubled("pod.metadata.annotations['x']", "[dyn(V), dyn(V)].join('')")},
		{"dyn strings formatted", doubled("pod.metadata.annotations['x']", "'%s%s'.format([dyn(V), dyn(V)])")},
		{"copies made by conversion", doubled("pod.metadata.annotations['x']", "string(bytes(V) + bytes(V))")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			prog, err := env.Compile(tc.policy, false)
			if err != nil {
				t.Fatal(err)
			}
			res, err := prog.Evaluate(context.Background(), Input{Pod: pod, Now: time.Now()})
			if err == nil || !strings.Contains(err.Error(), "cost limit exceeded") {
				t.Fatalf("built 64 MiB for a cost of %d (err %v); want the cost limit to stop it", res.Cost, err)
			}
		})
	}

	// Reading a value makes nothing: an index into a large annotation, even
	// as dyn or string(), costs what it did; so does a map() over a list of
	// 5,000, which grows its result with views, not copies.
	for expr, most := range map[string]int64{
		"size(dyn(pod.metadata.annotations['x'])) > 0 && size(string(pod.metadata.annotations['x'])) > 0": 20,
		"pod.metadata.annotations['list'].split(',').map(s, s + '!').size() == 5000":                      150000,
		"pod.metadata.annotations['list'].split(',').filter(s, s == '7').size() == 1":                     150000,
		// Each bytes() of a string is a copy: 5,000 of 64 KiB meet the limit.
		"pod.metadata.annotations['list'].split(',').map(s, bytes(pod.metadata.annotations['x'])).size() == 5000": -1,
	} {
		pod.Annotations["list"] = strings.TrimSuffix(strings.Repeat("7,", 1)+strings.Repeat("8,", 4999), ",")
		prog, err := env.Compile(Policy{Expression: expr}, false)
		if err != nil {
			t.Fatal(err)
		}
		res, err := prog.Evaluate(context.Background(), Input{Pod: pod, Now: time.Now()})
		if most < 0 {
			if err == nil || !strings.Contains(err.Error(), "cost limit exceeded") {
				t.Errorf("%s cost %d (err %v); want the cost limit to stop it", expr, res.Cost, err)
			}
			continue
		}
		if err != nil || !res.Ready || res.Cost > most {
			t.Errorf("%s cost %d (ready %v, err %v); want at most %d", expr, res.Cost, res.Ready, err, most)
		}
	}
}
