package cel

import (
	"slices"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/ast"
	"github.com/google/cel-go/common/types"
)

// metricsOverloads are the functions that read a scraped metric by name.
var metricsOverloads = []string{"readygate_metrics_value", "readygate_metrics_value_labels", "readygate_metrics_samples"}

// metricNames adds to names the metric names the checked expression reads
// with metrics.value or metrics.samples, and reports false when one of them
// is not a constant, so that the scrape must be kept whole.
func metricNames(checked *cel.Ast, names map[string]bool) bool {
	refs := checked.NativeRep().ReferenceMap()
	constant := true
	ast.PreOrderVisit(checked.NativeRep().Expr(), ast.NewExprVisitor(func(e ast.Expr) {
		if e.Kind() != ast.CallKind {
			return
		}
		ref, ok := refs[e.ID()]
		if !ok || !slices.ContainsFunc(ref.OverloadIDs, func(id string) bool { return slices.Contains(metricsOverloads, id) }) {
			return
		}
		args := e.AsCall().Args()
		if len(args) == 0 || args[0].Kind() != ast.LiteralKind {
			constant = false
			return
		}
		if name, ok := args[0].AsLiteral().(types.String); ok {
			names[string(name)] = true
			return
		}
		constant = false
	}))
	return constant
}

// MetricNames returns the names of the scraped metrics the policy can read,
// sorted; all is set when an expression names a metric that is not a
// constant, and the whole scrape is needed.
func (p *Program) MetricNames() (names []string, all bool) {
	if p.metricsAll {
		return nil, true
	}
	return p.metricNames, false
}
