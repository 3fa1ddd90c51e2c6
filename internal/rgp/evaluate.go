package rgp

import (
	"context"
	"time"

	"github.com/google/cel-go/common/types/ref"
	corev1 "k8s.io/api/core/v1"

	"github.com/readygate/readygate/internal/cel"
	"github.com/readygate/readygate/internal/gate"
	"github.com/readygate/readygate/internal/policy"
)

// Outcomes as the plugin prints them.
const (
	outcomeTrue              = "true"
	outcomeFalse             = "false"
	outcomeError             = "error"
	outcomeSourceUnavailable = "source-unavailable"
	outcomeUnreachable       = "pod-unreachable"
	outcomeUnknown           = "unknown"
)

// outcomeNames names every gate.Outcome.
var outcomeNames = map[gate.Outcome]string{
	gate.OutcomeTrue:              outcomeTrue,
	gate.OutcomeFalse:             outcomeFalse,
	gate.OutcomeError:             outcomeError,
	gate.OutcomeSourceUnavailable: outcomeSourceUnavailable,
	gate.OutcomeUnreachable:       outcomeUnreachable,
	gate.OutcomePending:           outcomeUnknown,
}

// Evaluation is a policy evaluated against one pod, with what it read.
type Evaluation struct {
	// Outcome is true, false, error (the expression failed), source-unavailable
	// or pod-unreachable (a source failed: no evaluation), or unknown (a
	// source the plugin may not read).
	Outcome string `json:"outcome"`
	// Message is messageExpression's result, or what failed.
	Message   string              `json:"message,omitempty"`
	Variables []cel.VariableValue `json:"variables,omitempty"`
	Sources   []SourceValue       `json:"sources,omitempty"`
	// Cost is the CEL cost spent, in Kubernetes cost units.
	Cost int64 `json:"cost"`

	observation gate.Observation
}

// SourceValue is what one source gave, and where it came from.
type SourceValue struct {
	Name string `json:"name"`
	// From says where the value came from: a file, a URL through the API
	// server's proxy, a Prometheus URL.
	From  string `json:"from,omitempty"`
	Value any    `json:"value,omitempty"`
	Error string `json:"error,omitempty"`
	// MissingPermission names the RBAC permission the user lacks to read it.
	MissingPermission string `json:"missingPermission,omitempty"`
}

// gathered is a pod's source values as the expressions read them, with
// their readable form, or the observation to make instead of evaluating.
type gathered struct {
	values map[string]ref.Val
	shown  []SourceValue
	// failed are the sources that failed without a verdict on the pod.
	failed policy.Failures
	// instead is the observation to make without evaluating.
	instead *gate.Observation
}

// add records one source's value.
func (g *gathered) add(name, from string, v ref.Val, shown any) {
	g.set(name, v)
	g.shown = append(g.shown, SourceValue{Name: name, From: from, Value: shown})
}

func (g *gathered) set(name string, v ref.Val) {
	if g.values == nil {
		g.values = map[string]ref.Val{}
	}
	g.values[name] = v
}

// fail records a source that could not be read, as the operator does: the
// pod's own endpoint not answering decides the observation; any other
// failure stands in the evaluation as unknown, and is the observation when
// the result needs it.
func (g *gathered) fail(name, from string, err error) {
	g.shown = append(g.shown, SourceValue{Name: name, From: from, Error: err.Error()})
	obs := policy.SourceFailed(name, err)
	if policy.Decides(obs) {
		if g.instead == nil || !policy.Decides(*g.instead) {
			g.instead = &obs
		}
		return
	}
	g.failed.Add(name, obs)
	g.set(name, cel.Unavailable(name))
}

// unreadable records a source the user cannot read now, for want of a
// permission or because the API server will not pass the request on: no
// verdict can be made, and explain shows the operator's last one.
func (g *gathered) unreadable(name, from, why, permission string) {
	g.shown = append(g.shown, SourceValue{Name: name, From: from, Error: why, MissingPermission: permission})
	if g.instead == nil {
		msg := "cannot read " + name + ": " + why
		if permission != "" {
			msg = "cannot read " + name + " without " + permission
		}
		g.instead = &gate.Observation{Outcome: gate.OutcomePending, Message: msg}
	}
}

// evaluate runs the compiled policy for the pod on the gathered sources, as
// the operator's reconciler does.
func evaluate(ctx context.Context, c *policy.Compiled, pod *corev1.Pod, src gathered, now time.Time) Evaluation {
	ev := Evaluation{Sources: src.shown}
	if src.instead != nil {
		ev.observation = *src.instead
	} else {
		res, vars, err := c.Program.Trace(ctx, cel.Input{Pod: pod, Gate: cel.GateOf(c.Settings.Verdict(gate.Find(pod, c.ConditionType))), Now: now, Sources: src.values})
		ev.observation = policy.Observe(res, err, src.failed)
		ev.Variables, ev.Cost = vars, res.Cost
	}
	ev.Outcome, ev.Message = outcomeNames[ev.observation.Outcome], ev.observation.Message
	return ev
}

// readable is a CEL value's plain form, or the reason it has none.
func readable(v ref.Val) any {
	out, why := cel.Readable(v)
	if why != "" {
		return why
	}
	return out
}

// metricsShown is the part of a scrape the expressions read.
func metricsShown(m *cel.Metrics, c *policy.Compiled) map[string][]cel.Sample {
	names, all := c.Program.MetricNames()
	if all {
		return m.Families
	}
	out := make(map[string][]cel.Sample, len(names))
	for _, n := range names {
		out[n] = m.Families[n]
	}
	return out
}
