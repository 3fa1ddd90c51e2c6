package policy

import (
	"errors"
	"testing"

	"github.com/readygate/readygate/internal/cel"
	"github.com/readygate/readygate/internal/gate"
	"github.com/readygate/readygate/internal/sources"
)

// TestObserveAroundFailedSources: a result that needs a failed source is
// the failure of the source it needs, not of the first that failed; one
// that does not is a verdict that says what it was made without.
func TestObserveAroundFailedSources(t *testing.T) {
	var failed Failures
	failed.Add(cel.VarHTTP, SourceFailed(cel.VarHTTP, errors.Join(errors.New("budget full"), sources.ErrNoVerdict)))
	failed.Add(cel.VarPrometheus, SourceFailed(cel.VarPrometheus, errors.New("connection refused")))
	cases := []struct {
		name string
		res  cel.Result
		err  error
		want gate.Observation
	}{
		{name: "needs prometheus alone", err: &cel.EvaluationError{Field: "spec.expression", Err: &cel.UndeterminedError{Sources: []string{cel.VarPrometheus}}},
			want: gate.Observation{Outcome: gate.OutcomeSourceUnavailable, Message: "prometheus: connection refused"}},
		{name: "needs both", err: &cel.UndeterminedError{Sources: []string{cel.VarHTTP, cel.VarPrometheus}},
			want: gate.Observation{Outcome: gate.OutcomeSourceUnavailable, Message: "http: budget full\nno verdict on the pod"}},
		{name: "decided without them", res: cel.Result{Ready: false},
			want: gate.Observation{Outcome: gate.OutcomeFalse, Message: "the expression is false whatever the failed source would say (http: budget full\nno verdict on the pod)"}},
		{name: "a message of its own is kept", res: cel.Result{Ready: true, Message: "warm"},
			want: gate.Observation{Outcome: gate.OutcomeTrue, Message: "warm"}},
		{name: "another error is an error", err: errors.New("no such key: x"),
			want: gate.Observation{Outcome: gate.OutcomeError, Message: "no such key: x"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := Observe(tc.res, tc.err, failed); got != tc.want {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}
