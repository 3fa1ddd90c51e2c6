package policy

import (
	"sync"

	"k8s.io/apimachinery/pkg/types"

	"github.com/readygate/readygate/api/v1alpha1"
	"github.com/readygate/readygate/internal/cel"
)

// Programs caches each policy's compiled program per generation, so a
// policy compiles once however many pods it gates.
type Programs struct {
	env *cel.Env

	mu      sync.Mutex
	entries map[types.UID]*programEntry
}

type programEntry struct {
	once       sync.Once
	generation int64
	program    *cel.Program
	err        error
}

// NewPrograms returns a cache that compiles in env.
func NewPrograms(env *cel.Env) *Programs {
	return &Programs{env: env, entries: map[types.UID]*programEntry{}}
}

// Get returns the policy's program, compiling it when its generation is new.
func (c *Programs) Get(p *v1alpha1.ReadinessGatePolicy) (*cel.Program, error) {
	c.mu.Lock()
	e, ok := c.entries[p.UID]
	if !ok || e.generation != p.Generation {
		e = &programEntry{generation: p.Generation}
		c.entries[p.UID] = e
	}
	c.mu.Unlock()
	e.once.Do(func() { e.program, e.err = c.env.Compile(Expressions(p)) })
	return e.program, e.err
}

// Forget drops a deleted policy's program and parsed selectors.
func (c *Programs) Forget(uid types.UID) {
	c.mu.Lock()
	delete(c.entries, uid)
	c.mu.Unlock()
	ForgetSelectors(uid)
}

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
