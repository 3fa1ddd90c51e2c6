package rgp

import (
	"errors"
	"strings"

	sigsjson "sigs.k8s.io/json"

	"github.com/readygate/readygate/api/v1alpha1"
)

// The API types read leniently what older versions stored (a spec's
// maxUnavailable beyond int32, 0.1.0's map of Prometheus queries), so that
// one such stored policy cannot fail the operator's list of every policy;
// a strict decode cannot see past their own decoding. A file a user hands
// kubectl rgp must be what the API server takes now, every unknown field
// named: these mirrors decode the spec, and the queries, without it.
type (
	strictSpec    v1alpha1.ReadinessGatePolicySpec
	strictQueries struct {
		Spec struct {
			Sources struct {
				Prometheus struct {
					Queries []v1alpha1.PrometheusQuery `json:"queries"`
				} `json:"prometheus"`
			} `json:"sources"`
		} `json:"spec"`
	}
)

// policyFieldErrors are the unknown fields, and the values the current API
// does not take, in a policy's JSON below spec.
func policyFieldErrors(data []byte) error {
	var spec struct {
		Spec strictSpec `json:"spec"`
	}
	errs := strictErrorsUnder(data, &spec, "spec.")
	errs = append(errs, strictErrorsUnder(data, &strictQueries{}, "spec.sources.prometheus.queries")...)
	return errors.Join(errs...)
}

// strictErrorsUnder decodes data strictly into v and returns the errors at
// or below path: v mirrors only that part of the object.
func strictErrorsUnder(data []byte, v any, path string) []error {
	strict, err := sigsjson.UnmarshalStrict(data, v)
	if err != nil {
		return []error{err}
	}
	var out []error
	for _, e := range strict {
		var fe sigsjson.FieldError
		if errors.As(e, &fe) && !strings.HasPrefix(fe.FieldPath(), path) {
			continue
		}
		out = append(out, e)
	}
	return out
}
