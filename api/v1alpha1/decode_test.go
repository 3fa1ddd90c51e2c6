package v1alpha1

import (
	"encoding/json"
	"math"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/intstr"
)

// What older CRDs let into etcd decodes, in a list of policies, as what it
// meant; what never meant anything still fails.
func TestStoredSpecsDecode(t *testing.T) {
	cases := []struct {
		name, maxUnavailable string
		want                 *intstr.IntOrString
		wantErr              string
	}{
		{name: "absent"},
		{name: "a count", maxUnavailable: `3`, want: ptrTo(intstr.FromInt32(3))},
		{name: "a percentage", maxUnavailable: `"25%"`, want: ptrTo(intstr.FromString("25%"))},
		{name: "a count beyond int32", maxUnavailable: `3000000000`, want: ptrTo(intstr.FromInt32(math.MaxInt32))},
		{name: "a count beyond int64", maxUnavailable: `99999999999999999999`, want: ptrTo(intstr.FromInt32(math.MaxInt32))},
		{name: "a negative count beyond int32", maxUnavailable: `-3000000000`, wantErr: "spec.maxUnavailable"},
		{name: "an object", maxUnavailable: `{}`, wantErr: "spec.maxUnavailable"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			spec := `"conditionType": "readygate.io/x", "expression": "true"`
			if tc.maxUnavailable != "" {
				spec += `, "maxUnavailable": ` + tc.maxUnavailable
			}
			list := &ReadinessGatePolicyList{}
			err := json.Unmarshal([]byte(`{"items": [{"metadata": {"name": "p"}, "spec": {`+spec+`}}]}`), list)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one naming %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := list.Items[0].Spec
			if got.ConditionType != "readygate.io/x" || got.Expression != "true" {
				t.Errorf("the rest of the spec read as %+v", got)
			}
			if (got.MaxUnavailable == nil) != (tc.want == nil) || got.MaxUnavailable != nil && *got.MaxUnavailable != *tc.want {
				t.Errorf("maxUnavailable = %v, want %v", got.MaxUnavailable, tc.want)
			}
		})
	}
}

func ptrTo[T any](v T) *T { return &v }
