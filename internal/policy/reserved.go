package policy

import (
	"fmt"
	"regexp"
	"strings"
)

// ConditionTypes is --reserved-condition-types: the pod condition types, or
// domains of them (a prefix ending in "/"), that other controllers own, so
// that no policy decides them. The operator may write any pod's status, and
// a tenant's policy for a load balancer's gate would let their pods into
// traffic before the load balancer is ready for them.
type ConditionTypes []string

// DefaultReservedConditionTypes are the readiness gates of the load-balancer
// controllers that use them: GKE's network endpoint groups and the AWS Load
// Balancer Controller's target groups (current and legacy domains).
func DefaultReservedConditionTypes() ConditionTypes {
	return ConditionTypes{"cloud.google.com/load-balancer-neg-ready", "target-health.elbv2.k8s.aws/", "target-health.alb.ingress.k8s.aws/"}
}

// reservedEntry is a domain-prefixed condition type, or a domain and "/".
var reservedEntry = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?([.][a-z0-9]([-a-z0-9]*[a-z0-9])?)*/([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$`)

func (r *ConditionTypes) String() string { return strings.Join(*r, ",") }

// Set replaces the list with the comma-separated entries of value.
func (r *ConditionTypes) Set(value string) error {
	var out ConditionTypes
	for e := range strings.SplitSeq(value, ",") {
		if e = strings.TrimSpace(e); e == "" {
			continue
		}
		if !reservedEntry.MatchString(e) {
			return fmt.Errorf("%q is neither a domain-prefixed condition type nor a domain followed by /", e)
		}
		out = append(out, e)
	}
	*r = out
	return nil
}

// Reserves reports whether conditionType is another controller's.
func (r ConditionTypes) Reserves(conditionType string) bool {
	for _, e := range r {
		if conditionType == e || strings.HasSuffix(e, "/") && strings.HasPrefix(conditionType, e) {
			return true
		}
	}
	return false
}

// Check says why a policy may not decide conditionType, if it may not.
func (r ConditionTypes) Check(conditionType string) error {
	if !r.Reserves(conditionType) {
		return nil
	}
	return fmt.Errorf("spec.conditionType: %s belongs to another controller, as readygate's --reserved-condition-types says: a policy deciding it would let pods into traffic past that controller's check; choose a condition type of your own domain", conditionType)
}
