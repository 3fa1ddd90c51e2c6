package sources

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/prometheus/common/model"
)

// Caps of a Prometheus answer: a tenant may point the source at a server of
// its own (under an allowed URL) that answers anything.
const (
	MaxPrometheusBytes   = 8 << 20
	MaxPrometheusSamples = 50000
)

// answer is the envelope of Prometheus's HTTP API. Its infos (Prometheus 3)
// are not read: they are hints about the query, such as "metric might not be
// a counter", and leave the result whole.
type answer struct {
	Status    string `json:"status"`
	ErrorType string `json:"errorType"`
	Error     string `json:"error"`
	// Warnings say the result is partial: a store or remote read that did
	// not answer (Thanos's, Cortex's "partial response"), or series PromQL
	// dropped.
	Warnings []string `json:"warnings"`
	Data     struct {
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

// DecodeAnswer turns the body of an instant query's answer, and its HTTP
// status, into each pod's value. Its errors complete a sentence that starts
// with the query, e.g. "returned a scalar, want an instant vector".
func DecodeAnswer(status int, body []byte) (map[string]float64, error) {
	var a answer
	// A failed answer that is JSON but not an envelope (a gateway's) is
	// told by its status below, not as a malformed answer.
	if err := json.Unmarshal(body, &a); err != nil && status/100 == 2 {
		return nil, fmt.Errorf("returned a malformed answer: %w", err)
	}
	if err := a.failure(status, body); err != nil {
		return nil, err
	}
	if warnings := a.partialWarnings(); len(warnings) > 0 {
		return nil, partial(warnings)
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
			return nil, fmt.Errorf("returned a malformed answer: the sample with %s=%q: %w", PodLabel, shown(s.Metric.Pod, 253), err)
		}
		if _, dup := values[s.Metric.Pod]; dup {
			return nil, fmt.Errorf("returned more than one sample with %s=%q: aggregate by (%s)", PodLabel, shown(s.Metric.Pod, 253), PodLabel)
		}
		values[s.Metric.Pod] = v
	}
	return values, nil
}

// failure says why an answer is no success: Prometheus's own error if it
// gave one, else the HTTP status and what came instead. An answer that says
// success under a failed status is a failure too.
func (a *answer) failure(status int, body []byte) error {
	switch {
	case a.Status == "success" && status/100 == 2:
		return nil
	case a.ErrorType != "" || a.Error != "":
		return fmt.Errorf("failed%s: %s: %s", withStatus(status), shown(a.ErrorType, 32), shown(a.Error, 512))
	default:
		return fmt.Errorf("answered HTTP %d without a Prometheus error: %s", status, shown(string(body), 256))
	}
}

// withStatus names a failed HTTP status; Prometheus's own errors come with
// one, and a 2xx adds nothing to them.
func withStatus(status int) string {
	if status/100 == 2 {
		return ""
	}
	return fmt.Sprintf(" with HTTP %d", status)
}

// infoPrefix starts the hints about a query that Prometheus 2.46 to 2.53,
// and Thanos, put among the warnings before Prometheus 3 moved them to
// infos ("PromQL info: metric might not be a counter"): the result is whole.
const infoPrefix = "PromQL info:"

// partialWarnings returns the warnings that say the result is partial.
func (a *answer) partialWarnings() []string {
	var out []string
	for _, w := range a.Warnings {
		if !strings.HasPrefix(w, infoPrefix) {
			out = append(out, w)
		}
	}
	return out
}

// partial is the error of a result with warnings: a gate decided on part of
// the data could flip on what was missing, so the round holds gates as in
// an outage.
func partial(warnings []string) error {
	msg := "returned a partial answer: " + shown(warnings[0], 256)
	if n := len(warnings) - 1; n > 0 {
		msg += fmt.Sprintf(" (and %d more)", n)
	}
	return errors.New(msg)
}

// shown cuts s for a message, whose text must be valid UTF-8 even where the
// cut splits a character or the server sent none.
func shown(s string, n int) string {
	return strings.ToValidUTF8(excerpt(s, n), "?")
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
