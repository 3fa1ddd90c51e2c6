package v1alpha1

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"

	"k8s.io/apimachinery/pkg/util/intstr"
)

// UnmarshalJSON reads the spec, taking a maxUnavailable count beyond what
// an int32 holds as the largest count. readygate 0.1.0's CRD, and this one
// before it bounded the count, let such a count into etcd; failing to
// decode it failed the list of every policy in the cluster, so that the
// operator read no policy of any tenant. Any count beyond the matched pods
// caps nothing, so the largest one means the same.
func (s *ReadinessGatePolicySpec) UnmarshalJSON(data []byte) error {
	type plain ReadinessGatePolicySpec // without this method
	aux := struct {
		*plain
		MaxUnavailable json.RawMessage `json:"maxUnavailable,omitempty"`
	}{plain: (*plain)(s)}
	if err := json.Unmarshal(data, &aux); err != nil {
		return err
	}
	if aux.MaxUnavailable == nil {
		return nil
	}
	v := &intstr.IntOrString{}
	if err := json.Unmarshal(aux.MaxUnavailable, v); err != nil {
		if !beyondInt32(aux.MaxUnavailable) {
			return fmt.Errorf("spec.maxUnavailable: %w", err)
		}
		*v = intstr.FromInt32(math.MaxInt32)
	}
	s.MaxUnavailable = v
	return nil
}

// beyondInt32 reports whether raw is a positive integer too large for an
// int32.
func beyondInt32(raw []byte) bool {
	n, err := strconv.ParseUint(string(raw), 10, 64)
	return err == nil && n > math.MaxInt32 || errors.Is(err, strconv.ErrRange)
}
