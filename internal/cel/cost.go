package cel

import (
	"fmt"
	"math"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common"
	"github.com/google/cel-go/common/operators"
	"github.com/google/cel-go/common/overloads"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	"k8s.io/apiserver/pkg/cel/library"
)

// PerCallLimit is the most one expression may cost, estimated or spent.
const PerCallLimit = celconfig.PerCallLimit

// unbounded is where estimates that depend on a size nobody declared begin:
// the estimator takes such a size as the largest uint64 and scales it by
// cost factors no smaller than a hundredth.
const unbounded = math.MaxUint64 / 1000

// checkEstimatedCost rejects an expression whose estimated worst-case cost
// is known and above the per-expression limit, as the API server rejects
// such CEL at admission. An estimate that is unbounded comes from the pod's
// and the sources' lists and maps, which have no declared maximum (every
// pod.metadata.labels.exists(...) would be unbounded): those expressions
// are accepted, and the run-time limit still stops them.
func checkEstimatedCost(env *cel.Env, field string, ast *cel.Ast) *FieldError {
	est, err := env.EstimateCost(ast, &library.CostEstimator{})
	if err != nil || est.Max >= unbounded || est.Max <= PerCallLimit {
		return nil
	}
	return &FieldError{Field: field, Detail: fmt.Sprintf(
		"estimated cost %d exceeds the limit of %d per expression: iterate over fewer or smaller lists", est.Max, PerCallLimit)}
}

// sizedCost charges a call that makes a string or bytes at least its size
// times the traversal factor, as cel-go charges a typed `+` of strings.
// cel-go charges a call whose operands are dyn by the first overload its
// checker found (for `+`, add_int64: 1), so without this a policy could
// double a string in each of its variables and build gigabytes for a cost
// of a hundred. Lists and maps are left to cel-go: a `+` of lists is a view
// of both, not a copy, and map() and filter() grow their result with it. A
// call that hands back a value it was given, such as an index, dyn() or
// string() of a string, makes nothing and keeps its cost.
type sizedCost struct {
	library.CostEstimator
}

// passThrough are the functions whose result is one of their operands.
var passThrough = map[string]bool{
	operators.Index: true, operators.OptIndex: true, operators.OptSelect: true,
	overloads.TypeConvertDyn: true, "optional.of": true, "optional.ofNonZeroValue": true, "value": true, "or": true, "orValue": true,
}

// sameTypeConversion reports a string() of a string or a bytes() of bytes,
// which hands back its operand; a conversion between the two copies it.
func sameTypeConversion(function string, args []ref.Val, result ref.Val) bool {
	return (function == overloads.TypeConvertString || function == overloads.TypeConvertBytes) &&
		len(args) == 1 && args[0].Type() == result.Type()
}

// CallCost is the library's cost of the call, raised to the size of the
// string or bytes it made.
func (c *sizedCost) CallCost(function, overloadID string, args []ref.Val, result ref.Val) *uint64 {
	cost := c.CostEstimator.CallCost(function, overloadID, args, result)
	var size uint64
	switch v := result.(type) {
	case types.String:
		size = uint64(len(v))
	case types.Bytes:
		size = uint64(len(v))
	default:
		return cost
	}
	if passThrough[function] || sameTypeConversion(function, args, result) {
		return cost
	}
	sized := uint64(math.Ceil(float64(size) * common.StringTraversalCostFactor))
	if cost != nil && *cost >= sized {
		return cost
	}
	return &sized
}
