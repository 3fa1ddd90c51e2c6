package sources

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/prometheus/common/model"
)

// Caps of a Prometheus answer: a tenant may point the source at a server of
// its own (under an allowed URL) that answers anything.
const (
	MaxPrometheusBytes   = 8 << 20
	MaxPrometheusSamples = 50000
)

// answer is the envelope of Prometheus's HTTP API.
type answer struct {
	Status    string `json:"status"`
	ErrorType string `json:"errorType"`
	Error     string `json:"error"`
	Data      struct {
		ResultType string          `json:"resultType"`
		Result     json.RawMessage `json:"result"`
	} `json:"data"`
}

// vectorSample is what readygate reads of one sample: the pod label and the
// value. Other labels are skipped by the decoder, not stored.
type vectorSample struct {
	Metric struct {
		Pod string `json:"pod"`
	} `json:"metric"`
	Value []json.RawMessage `json:"value"`
}

// DecodeAnswer turns the body of an instant query's answer into each pod's
// value. Its errors complete a sentence that starts with the query, e.g.
// "returned a scalar, want an instant vector".
func DecodeAnswer(body []byte) (map[string]float64, error) {
	var a answer
	if err := json.Unmarshal(body, &a); err != nil {
		return nil, fmt.Errorf("returned a malformed answer: %w", err)
	}
	if a.Status != "success" {
		return nil, fmt.Errorf("failed: %s: %s", a.ErrorType, excerpt(a.Error, 512))
	}
	if a.Data.ResultType != model.ValVector.String() {
		return nil, fmt.Errorf("returned a %s, want an instant vector", excerpt(a.Data.ResultType, 32))
	}
	dec := json.NewDecoder(bytes.NewReader(a.Data.Result))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('[') {
		return nil, errors.New("returned a malformed answer: the result is not a list")
	}
	values := map[string]float64{}
	for n := 1; dec.More(); n++ {
		if n > MaxPrometheusSamples {
			return nil, fmt.Errorf("returned more than %d samples", MaxPrometheusSamples)
		}
		var s vectorSample
		if err := dec.Decode(&s); err != nil {
			return nil, fmt.Errorf("returned a malformed answer: sample %d: %w", n, err)
		}
		// A sample without the pod label is no pod's; it still counts
		// toward the cap.
		if s.Metric.Pod == "" {
			continue
		}
		v, err := sampleValue(s.Value)
		if err != nil {
			return nil, fmt.Errorf("returned a malformed answer: the sample with %s=%q: %w", PodLabel, s.Metric.Pod, err)
		}
		if _, dup := values[s.Metric.Pod]; dup {
			return nil, fmt.Errorf("returned more than one sample with %s=%q: aggregate by (%s)", PodLabel, s.Metric.Pod, PodLabel)
		}
		values[s.Metric.Pod] = v
	}
	return values, nil
}

// sampleValue reads [timestamp, "value"]. A sample without a float value (a
// native histogram) is an error, never a 0.
func sampleValue(pair []json.RawMessage) (float64, error) {
	if len(pair) != 2 {
		return 0, errors.New("no [timestamp, value] pair (a native histogram?)")
	}
	var v model.SampleValue
	if err := json.Unmarshal(pair[1], &v); err != nil {
		return 0, fmt.Errorf("value: %w", err)
	}
	return float64(v), nil
}
