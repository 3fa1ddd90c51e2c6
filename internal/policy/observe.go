package policy

import (
	"github.com/readygate/readygate/internal/cel"
	"github.com/readygate/readygate/internal/gate"
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
