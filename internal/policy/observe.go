package policy

import (
	"errors"
	"fmt"

	"github.com/readygate/readygate/internal/cel"
	"github.com/readygate/readygate/internal/gate"
	"github.com/readygate/readygate/internal/sources"
)

// Observe classifies one evaluation's result as the planner reads it. The
// operator and kubectl rgp both read results through it, so the plugin's
// verdict is the operator's.
func Observe(res cel.Result, err error) gate.Observation {
	switch {
	case err != nil:
		return gate.Observation{Outcome: gate.OutcomeError, Message: err.Error()}
	case res.Ready:
		return gate.Observation{Outcome: gate.OutcomeTrue, Message: res.Message}
	default:
		return gate.Observation{Outcome: gate.OutcomeFalse, Message: res.Message}
	}
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
