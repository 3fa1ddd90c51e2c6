package cel

import (
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/interpreter"
	"google.golang.org/protobuf/types/known/structpb"
	corev1 "k8s.io/api/core/v1"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	"k8s.io/apiserver/pkg/cel/lazy"
)

// Gate is the pod's current condition as the expressions see it.
type Gate struct {
	// Status is True, False or Unknown (no condition yet).
	Status string
	Reason string
	// LastTransitionTime is zero when the pod has no condition yet.
	LastTransitionTime time.Time
}

// Input is what one evaluation reads.
type Input struct {
	Pod  *corev1.Pod
	Gate Gate
	Now  time.Time
	// Sources holds the value of every source the policy enabled, by name.
	Sources map[string]ref.Val
}

// Result is the outcome of one evaluation.
type Result struct {
	Ready bool
	// Message is messageExpression's result, empty when the policy has none.
	Message string
	// Cost is the runtime cost spent, in Kubernetes CEL cost units.
	Cost int64
}

// EvaluationError is a runtime failure: a missing key, a cost overrun, a
// non-bool dynamic result, a failed source.
type EvaluationError struct {
	Field string
	Err   error
}

func (e *EvaluationError) Error() string { return e.Field + ": " + e.Err.Error() }
func (e *EvaluationError) Unwrap() error { return e.Err }

// ErrUndetermined is an evaluation whose result depends on a source that
// failed: it says nothing about the pod.
var ErrUndetermined = errors.New("the result depends on a source that failed")

// UndeterminedError names the failed sources the result depends on.
type UndeterminedError struct{ Sources []string }

func (e *UndeterminedError) Error() string {
	return ErrUndetermined.Error() + ": " + strings.Join(e.Sources, ", ")
}

func (e *UndeterminedError) Unwrap() error { return ErrUndetermined }

// Unavailable stands for a source that failed. It is unknown to CEL, so an
// expression that decides without it (false && anything) still gives its
// verdict, and one that needs it is undetermined.
func Unavailable(source string) ref.Val {
	return types.NewUnknown(0, types.NewAttributeTrail(source))
}

// Budget is the runtime cost an evaluation may spend across all its
// expressions, the same as a ValidatingAdmissionPolicy's.
const Budget = celconfig.RuntimeCELCostBudget

// GateOf is the gate variable for the condition a pod carries; nil is a pod
// with no condition yet.
func GateOf(cur *corev1.PodCondition) Gate {
	if cur == nil {
		return Gate{Status: string(corev1.ConditionUnknown)}
	}
	return Gate{Status: string(cur.Status), Reason: cur.Reason, LastTransitionTime: cur.LastTransitionTime.Time}
}

// Evaluate runs the policy for one pod.
func (p *Program) Evaluate(ctx context.Context, in Input) (Result, error) {
	ev := &evaluation{program: p, input: in, remaining: Budget}
	ev.variables = ev.lazyVariables(ctx)
	return ev.evaluate(ctx)
}

// VariableValue is one variable's value in an evaluation, for a person to
// read: Value is JSON-like (nil, bool, number, string, list, map), or Error
// says why it has none.
type VariableValue struct {
	Name  string `json:"name"`
	Value any    `json:"value,omitempty"`
	Error string `json:"error,omitempty"`
}

// Trace evaluates as Evaluate does and also returns the value of every
// variable, those the expressions did not read included, from the same
// evaluation: what kubectl rgp explain shows.
func (p *Program) Trace(ctx context.Context, in Input) (Result, []VariableValue, error) {
	ev := &evaluation{program: p, input: in, remaining: Budget}
	ev.variables = ev.lazyVariables(ctx)
	res, err := ev.evaluate(ctx)
	vars := make([]VariableValue, len(p.variables))
	for i, v := range p.variables {
		vars[i] = VariableValue{Name: v.name}
		val := ev.variables.Get(types.String(v.name))
		switch {
		case types.IsError(val):
			vars[i].Error = fmt.Sprint(val)
			continue
		case types.IsUnknown(val):
			vars[i].Error = (&UndeterminedError{Sources: unknownSources(val)}).Error()
			continue
		}
		vars[i].Value, vars[i].Error = Readable(val)
	}
	res.Cost = ev.spent()
	return res, vars, err
}

// Readable converts a CEL value to plain Go values that encode as JSON, or
// says why it cannot (an opaque value such as the metrics scrape).
func Readable(v ref.Val) (any, string) {
	native, err := v.ConvertToNative(jsonValueType)
	if err != nil {
		return nil, fmt.Sprintf("a %s has no readable form", v.Type().TypeName())
	}
	return native.(*structpb.Value).AsInterface(), ""
}

var jsonValueType = reflect.TypeOf(&structpb.Value{})

func (ev *evaluation) evaluate(ctx context.Context) (Result, error) {
	out, err := ev.run(ctx, "spec.expression", ev.program.expression)
	if err != nil {
		return Result{Cost: ev.spent()}, err
	}
	if types.IsUnknown(out) {
		return Result{Cost: ev.spent()}, &EvaluationError{Field: "spec.expression", Err: &UndeterminedError{Sources: unknownSources(out)}}
	}
	ready, ok := out.(types.Bool)
	if !ok {
		return Result{Cost: ev.spent()}, &EvaluationError{Field: "spec.expression", Err: fmt.Errorf("must evaluate to bool but evaluated to %s", out.Type().TypeName())}
	}
	res := Result{Ready: bool(ready)}
	if ev.program.message != nil {
		msg, err := ev.run(ctx, "spec.messageExpression", ev.program.message)
		if err != nil {
			res.Cost = ev.spent()
			return res, err
		}
		s, ok := msg.(types.String)
		switch {
		case types.IsUnknown(msg):
			// The verdict stands without the failed source; the caller
			// says which failed instead.
		case !ok:
			res.Cost = ev.spent()
			return res, &EvaluationError{Field: "spec.messageExpression", Err: fmt.Errorf("must evaluate to string but evaluated to %s", msg.Type().TypeName())}
		default:
			res.Message = string(s)
		}
	}
	res.Cost = ev.spent()
	return res, nil
}

// evaluation is the state of one Evaluate call: its activation, its lazily
// evaluated variables and what is left of its cost budget.
type evaluation struct {
	program   *Program
	input     Input
	pod       ref.Val // built on first use
	variables *lazy.MapValue
	remaining int64
}

var _ interpreter.Activation = (*evaluation)(nil)

// ResolveName serves the variables without building a map per evaluation.
func (ev *evaluation) ResolveName(name string) (any, bool) {
	switch name {
	case VarPod:
		if ev.pod == nil {
			ev.pod = ev.program.env.podValue(ev.input.Pod)
		}
		return ev.pod, true
	case VarGate:
		return ev.gate(), true
	case VarNow:
		return types.Timestamp{Time: ev.input.Now}, true
	case VarVariables:
		return ev.variables, true
	}
	v, ok := ev.input.Sources[name]
	return v, ok
}

func (ev *evaluation) Parent() interpreter.Activation { return nil }

func (ev *evaluation) gate() ref.Val {
	g := map[string]any{"status": ev.input.Gate.Status, "reason": ev.input.Gate.Reason}
	if !ev.input.Gate.LastTransitionTime.IsZero() {
		g["lastTransitionTime"] = ev.input.Gate.LastTransitionTime
	}
	return types.DefaultTypeAdapter.NativeToValue(g)
}

func (ev *evaluation) lazyVariables(ctx context.Context) *lazy.MapValue {
	if len(ev.program.variables) == 0 {
		return ev.program.noVariables
	}
	m := lazy.NewMapValue(ev.program.varType)
	for i, v := range ev.program.variables {
		field := fmt.Sprintf("spec.variables[%d].expression", i)
		m.Append(v.name, func(*lazy.MapValue) ref.Val {
			out, err := ev.run(ctx, field, v)
			if err != nil {
				return types.WrapErr(err)
			}
			return out
		})
	}
	return m
}

// run evaluates one compiled expression and charges its cost to the budget.
func (ev *evaluation) run(ctx context.Context, field string, c *compiled) (ref.Val, error) {
	if ev.remaining <= 0 {
		return nil, &EvaluationError{Field: field, Err: fmt.Errorf("the evaluation exceeded its cost budget of %d", Budget)}
	}
	out, details, err := c.program.ContextEval(ctx, ev)
	if details != nil && details.ActualCost() != nil {
		cost := *details.ActualCost()
		if cost > math.MaxInt64 {
			cost = math.MaxInt64
		}
		ev.remaining -= int64(cost)
	}
	if err != nil {
		return nil, &EvaluationError{Field: field, Err: err}
	}
	if ev.remaining < 0 {
		return nil, &EvaluationError{Field: field, Err: fmt.Errorf("the evaluation exceeded its cost budget of %d", Budget)}
	}
	return out, nil
}

// unknownSources names the failed sources an unknown result depends on.
func unknownSources(v ref.Val) []string {
	u := v.(*types.Unknown)
	var names []string
	for _, id := range u.IDs() {
		trails, _ := u.GetAttributeTrails(id)
		for _, t := range trails {
			if !slices.Contains(names, t.Variable()) {
				names = append(names, t.Variable())
			}
		}
	}
	slices.Sort(names)
	return names
}

func (ev *evaluation) spent() int64 { return Budget - ev.remaining }
