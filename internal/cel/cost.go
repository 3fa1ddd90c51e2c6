package cel

import (
	"fmt"
	"math"

	"github.com/google/cel-go/cel"
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
