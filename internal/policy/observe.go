package policy

import (
	"errors"
	"fmt"

	"github.com/readygate/readygate/internal/cel"
	"github.com/readygate/readygate/internal/gate"
	"github.com/readygate/readygate/internal/sources"
)

// Observe classifies one evaluation's result as the planner reads it.
// failed, when set, is the first source that failed without deciding for
// the pod (see Decides): the evaluation read it as unknown, so a result
// that needs it is that failure, and one that does not is a verdict that
// says which source it was made without. The operator and kubectl rgp
// both read results through it, so the plugin's verdict is the operator's.
func Observe(res cel.Result, err error, failed *gate.Observation) gate.Observation {
	switch {
	case failed != nil && errors.Is(err, cel.ErrUndetermined):
		return *failed
	case err != nil:
		return gate.Observation{Outcome: gate.OutcomeError, Message: err.Error()}
	}
	obs := gate.Observation{Outcome: gate.OutcomeFalse, Message: res.Message}
	if res.Ready {
		obs.Outcome = gate.OutcomeTrue
	}
	if failed != nil && obs.Message == "" {
		obs.Message = fmt.Sprintf("the expression is %t whatever the failed source would say (%s)", res.Ready, failed.Message)
	}
	return obs
}

// Decides reports whether a source's failure is the observation itself,
// with no evaluation: the pod's own endpoint not answering is a false
// result. Any other failure stands in the evaluation as unknown.
func Decides(failed gate.Observation) bool {
	return failed.Outcome == gate.OutcomeUnreachable
}

// SourceFailed is the observation of a source that could not be read: the
// pod's own http or metrics endpoint not answering is a verdict about the
// pod, as a failing readiness probe is; anything else (the API server,
// Prometheus, a Secret, readygate's own bugs and budgets that other tenants
// filled) says nothing about it.
func SourceFailed(source string, err error) gate.Observation {
	outcome := gate.OutcomeSourceUnavailable
	if (source == cel.VarHTTP || source == cel.VarMetrics) && !errors.Is(err, sources.ErrNoVerdict) {
		outcome = gate.OutcomeUnreachable
	}
	return gate.Observation{Outcome: outcome, Message: fmt.Sprintf("%s: %v", source, err)}
}
