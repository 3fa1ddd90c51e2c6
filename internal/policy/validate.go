package policy

import (
	"errors"
	"fmt"
	"regexp"
	"slices"

	"github.com/readygate/readygate/api/v1alpha1"
	"github.com/readygate/readygate/internal/cel"
	"github.com/readygate/readygate/internal/sources"
)

// InvalidError makes a policy unusable; Reason goes on its Accepted condition.
type InvalidError struct {
	Reason string
	Err    error
}

func (e *InvalidError) Error() string { return e.Err.Error() }
func (e *InvalidError) Unwrap() error { return e.Err }

// errNoQueries is a policy stored by readygate 0.1.0, whose queries were a
// map: the API server prunes it against the list's schema, and the queries
// are gone. The CRD refuses an empty list from any other writer.
var errNoQueries = errors.New("spec.sources.prometheus.queries: no queries; a policy stored by readygate 0.1.0 had them as a map, " +
	"which this version's CRD cannot keep: apply the policy again with queries as a list of {name, query}")

// validateSources returns what makes the policy's sources unusable: a
// Prometheus address the administrator does not allow, or a query that does
// not render.
func validateSources(p *v1alpha1.ReadinessGatePolicy, prometheusURLs *sources.URLAllowlist) error {
	if s := p.Spec.Sources; s != nil && s.Prometheus != nil {
		if prometheusURLs != nil {
			if err := prometheusURLs.Allows(s.Prometheus.Address); err != nil {
				return &InvalidError{Reason: v1alpha1.ReasonSourceNotAllowed, Err: fmt.Errorf("spec.sources.prometheus.address: %w", err)}
			}
		}
		if len(s.Prometheus.Queries) == 0 {
			return &InvalidError{Reason: v1alpha1.ReasonInvalidSource, Err: errNoQueries}
		}
		if _, err := sources.RenderQueries(s.Prometheus.Queries, p.Namespace); err != nil {
			return &InvalidError{Reason: v1alpha1.ReasonInvalidSource, Err: err}
		}
	}
	return nil
}

// readsEndpointReady finds `.ready` or `.serving` in an expression; with the
// endpoints source that is almost always an endpoint's flag.
var readsEndpointReady = regexp.MustCompile(`\.(ready|serving)\b`)

// Warnings are what is legal but likely wrong in the policy.
func Warnings(p *v1alpha1.ReadinessGatePolicy) []string {
	var warnings []string
	if p.Spec.Timeout != nil {
		warnings = append(warnings, "spec.timeout is deprecated: set spec.failOpenAfter, which wins when both are set")
	}
	if readsEndpointFlag(p) {
		warnings = append(warnings, "the expression reads an endpoint's ready or serving flag, which the endpointslice controller sets only once the pod is Ready, "+
			"and the pod is not Ready until this gate is True: the gate would wait forever. Test that the pod is listed (e.g. by serviceName) instead")
	}
	return warnings
}

// readsEndpointFlag reports whether an expression of a policy with the
// endpoints source reads `.ready` or `.serving`.
func readsEndpointFlag(p *v1alpha1.ReadinessGatePolicy) bool {
	if p.Spec.Sources == nil || p.Spec.Sources.Endpoints == nil {
		return false
	}
	exprs := []string{p.Spec.Expression}
	for _, v := range p.Spec.Variables {
		exprs = append(exprs, v.Expression)
	}
	return slices.ContainsFunc(exprs, readsEndpointReady.MatchString)
}

// reasonOf is the Accepted reason for a validation error.
func reasonOf(err error) string {
	var ie *InvalidError
	if errors.As(err, &ie) {
		return ie.Reason
	}
	var ce *cel.CompileError
	if errors.As(err, &ce) {
		return v1alpha1.ReasonInvalidExpression
	}
	return v1alpha1.ReasonInvalidSelector
}
