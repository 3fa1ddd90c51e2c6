package policy

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/readygate/readygate/api/v1alpha1"
	"github.com/readygate/readygate/internal/cel"
)

func TestReservedConditionTypes(t *testing.T) {
	r := DefaultReservedConditionTypes()
	for ct, want := range map[string]bool{
		"cloud.google.com/load-balancer-neg-ready":      true,
		"target-health.elbv2.k8s.aws/k8s-shop-web-1a2b": true,
		"target-health.alb.ingress.k8s.aws/shop_web_80": true,
		"cloud.google.com/load-balancer-neg-ready-ish":  false,
		"readygate.io/warm":                             false,
		"example.com/target-health.elbv2.k8s.aws/thing": false,
	} {
		if got := r.Reserves(ct); got != want {
			t.Errorf("Reserves(%q) = %v, want %v", ct, got, want)
		}
	}
	var none ConditionTypes
	if err := none.Set(""); err != nil || none.Reserves("cloud.google.com/load-balancer-neg-ready") {
		t.Fatalf("an empty flag reserves nothing: %v", err)
	}
	for v, want := range map[string]string{
		"Ready":           "is neither a domain-prefixed condition type nor a domain followed by /",
		"example.com/a b": "is neither a domain-prefixed condition type nor a domain followed by /",
		"/x":              "is neither a domain-prefixed condition type nor a domain followed by /",
	} {
		var c ConditionTypes
		if err := c.Set(v); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err = %v, want %q", v, err, want)
		}
	}
}

// A policy for a condition type another controller owns touches no pod,
// not even when suspended or in DryRun, which set gates True unevaluated.
func TestCacheRefusesAReservedConditionType(t *testing.T) {
	env, err := cel.NewEnv(nil)
	if err != nil {
		t.Fatal(err)
	}
	cache := NewCache(env, nil, DefaultReservedConditionTypes())
	for _, mode := range []func(*v1alpha1.ReadinessGatePolicy){
		func(*v1alpha1.ReadinessGatePolicy) {},
		func(p *v1alpha1.ReadinessGatePolicy) { p.Spec.Suspend = true },
		func(p *v1alpha1.ReadinessGatePolicy) { p.Spec.Mode = v1alpha1.ModeDryRun },
	} {
		p := pol("neg", time.Hour, "cloud.google.com/load-balancer-neg-ready", nil)
		p.Spec.Expression = "true"
		mode(&p)
		c := cache.Get(&p)
		var invalid *InvalidError
		if !errors.As(c.Err, &invalid) || invalid.Reason != v1alpha1.ReasonConditionTypeReserved ||
			!strings.Contains(c.Err.Error(), "--reserved-condition-types") {
			t.Fatalf("err = %v, want %s naming the flag", c.Err, v1alpha1.ReasonConditionTypeReserved)
		}
		if c.Selects("ns", map[string]string{}) {
			t.Fatal("a policy for a reserved condition type selects pods")
		}
		cache.Forget(p.UID)
	}
	if !cache.Reserves("target-health.elbv2.k8s.aws/x") {
		t.Fatal("the cache does not tell the reconcilers which types are reserved")
	}
}
