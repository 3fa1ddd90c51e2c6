package policy

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/readygate/readygate/api/v1alpha1"
	"github.com/readygate/readygate/internal/cel"
	"github.com/readygate/readygate/internal/sources"
)

// A Prometheus address outside --prometheus-allowed-urls makes the policy
// unusable, with a reason of its own and a message naming the flag.
func TestValidatePrometheusAddress(t *testing.T) {
	env, err := cel.NewEnv(nil)
	if err != nil {
		t.Fatal(err)
	}
	var allowed sources.URLAllowlist
	if err := allowed.Set("http://prom.monitoring:9090"); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		address    string
		allowed    sources.URLAllowlist
		wantReason string // empty: valid
		wantText   string
	}{
		{address: "http://prom.monitoring:9090", allowed: allowed},
		{address: "http://prom.monitoring:9090@169.254.169.254", allowed: allowed, wantReason: v1alpha1.ReasonSourceNotAllowed, wantText: "carries credentials"},
		{address: "http://other.tenant:9090", allowed: allowed, wantReason: v1alpha1.ReasonSourceNotAllowed,
			wantText: `spec.sources.prometheus.address: prometheus address "http://other.tenant:9090" is not under any URL that readygate's --prometheus-allowed-urls allows`},
		{address: "http://prom.monitoring:9090", wantReason: v1alpha1.ReasonSourceNotAllowed, wantText: "the prometheus source is off"},
	}
	for i, tc := range cases {
		p := &v1alpha1.ReadinessGatePolicy{
			ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", UID: "uid", Generation: int64(i + 1)},
			Spec: v1alpha1.ReadinessGatePolicySpec{
				Selector:      metav1.LabelSelector{MatchLabels: map[string]string{"app": "x"}},
				ConditionType: "readygate.io/x",
				Expression:    "prometheus.up == 1.0",
				Sources: &v1alpha1.Sources{Prometheus: &v1alpha1.PrometheusSource{
					Address: tc.address, Queries: []v1alpha1.PrometheusQuery{{Name: "up", Query: "up"}}}},
			},
		}
		err := Compile(env, p, true, &tc.allowed).Err
		if tc.wantReason == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.address, err)
			}
			continue
		}
		var ie *InvalidError
		if !errors.As(err, &ie) || ie.Reason != tc.wantReason || !strings.Contains(err.Error(), tc.wantText) {
			t.Errorf("%s: err = %v, want %s %q", tc.address, err, tc.wantReason, tc.wantText)
		}
	}
}

// A selector over its caps is refused, saying which cap.
func TestSelectorCaps(t *testing.T) {
	values := make([]string, MaxSelectorValues+1)
	for i := range values {
		values[i] = strings.Repeat("v", i%60+1)
	}
	requirements := map[string]string{}
	for i := range MaxSelectorRequirements + 1 {
		requirements[strings.Repeat("k", i+1)] = "v"
	}
	for _, tc := range []struct {
		name     string
		selector metav1.LabelSelector
		want     string
	}{
		{"many values", metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "app", Operator: metav1.LabelSelectorOpNotIn, Values: values}}},
			"257 values in matchExpressions together, at most 256"},
		{"many requirements", metav1.LabelSelector{MatchLabels: requirements},
			"33 requirements in matchLabels and matchExpressions together, at most 32"},
		{"within", metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}, ""},
	} {
		err := SelectorWithinCaps(&tc.selector)
		if got := fmt.Sprint(err); (tc.want == "" && err != nil) || (tc.want != "" && got != tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}
