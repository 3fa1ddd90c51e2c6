package policy

import (
	"github.com/readygate/readygate/api/v1alpha1"
	"github.com/readygate/readygate/internal/cel"
)

// Expressions returns what of the policy the CEL layer compiles.
func Expressions(p *v1alpha1.ReadinessGatePolicy) cel.Policy {
	vars := make([]cel.Variable, len(p.Spec.Variables))
	for i, v := range p.Spec.Variables {
		vars[i] = cel.Variable{Name: v.Name, Expression: v.Expression}
	}
	return cel.Policy{
		Variables:         vars,
		Expression:        p.Spec.Expression,
		MessageExpression: p.Spec.MessageExpression,
		Sources:           sourceDecls(p.Spec.Sources),
	}
}

// sourceDecls declares the variables of the sources the policy enables; a
// source that is not enabled stays undeclared, so reading it does not compile.
func sourceDecls(s *v1alpha1.Sources) []cel.Source {
	if s == nil {
		return nil
	}
	var out []cel.Source
	if s.Endpoints != nil {
		out = append(out, cel.EndpointsSource())
	}
	if s.HTTP != nil {
		out = append(out, cel.HTTPSource())
	}
	if s.Metrics != nil {
		out = append(out, cel.MetricsSource())
	}
	if s.Prometheus != nil {
		names := make([]string, len(s.Prometheus.Queries))
		for i, q := range s.Prometheus.Queries {
			names[i] = q.Name
		}
		out = append(out, cel.PrometheusSource(names))
	}
	return out
}
