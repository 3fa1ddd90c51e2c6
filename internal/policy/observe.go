package policy

import (
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/readygate/readygate/internal/cel"
	"github.com/readygate/readygate/internal/gate"
	"github.com/readygate/readygate/internal/sources"
)

// Failures are the sources that failed without deciding for the pod (see
// Decides), by name: the evaluation reads them as unknown.
type Failures map[string]gate.Observation

// Add records a source's failure.
func (f *Failures) Add(source string, obs gate.Observation) {
	if *f == nil {
		*f = Failures{}
	}
	(*f)[source] = obs
}

// of returns the failure of the first of names that failed, or of the
// first source that failed by name.
func (f Failures) of(names []string) gate.Observation {
	for _, s := range names {
		if obs, ok := f[s]; ok {
			return obs
		}
	}
	return f[slices.Sorted(maps.Keys(f))[0]]
}

// Observe classifies one evaluation's result as the planner reads it. A
// result that needs a failed source is that source's failure; one that
// does not is a verdict that says which source it was made without. The
// operator and kubectl rgp both read results through it, so the plugin's
// verdict is the operator's.
func Observe(res cel.Result, err error, failed Failures) gate.Observation {
	var undetermined *cel.UndeterminedError
	switch {
	case len(failed) > 0 && errors.As(err, &undetermined):
		return failed.of(undetermined.Sources)
	case err != nil:
		return gate.Observation{Outcome: gate.OutcomeError, Message: err.Error()}
	}
	obs := gate.Observation{Outcome: gate.OutcomeFalse, Message: res.Message}
	if res.Ready {
		obs.Outcome = gate.OutcomeTrue
	}
	if len(failed) > 0 && obs.Message == "" {
		obs.Message = fmt.Sprintf("the expression is %t whatever the failed source would say (%s)", res.Ready, failed.of(nil).Message)
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
