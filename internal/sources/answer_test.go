package sources

import (
	"cmp"
	"fmt"
	"math"
	"net/http"
	"strings"
	"testing"
)

func TestDecodeAnswer(t *testing.T) {
	vector := func(samples string) string {
		return `{"status":"success","data":{"resultType":"vector","result":[` + samples + `]}}`
	}
	cases := []struct {
		name    string
		status  int // 200 if 0
		body    string
		want    map[string]float64
		wantErr string
	}{
		{name: "one sample per pod", body: vector(`{"metric":{"pod":"a","x":"y"},"value":[1.5,"2"]},{"metric":{"pod":"b"},"value":[1.5,"NaN"]},{"metric":{"pod":"c"},"value":[1,"+Inf"]}`),
			want: map[string]float64{"a": 2, "b": math.NaN(), "c": math.Inf(1)}},
		{name: "samples without a pod label are no pod's", body: vector(`{"metric":{"job":"x"},"value":[1,"1"]}`), want: map[string]float64{}},
		{name: "empty vector", body: vector(``), want: map[string]float64{}},
		{name: "two samples for one pod", body: vector(`{"metric":{"pod":"a","c":"1"},"value":[1,"1"]},{"metric":{"pod":"a","c":"2"},"value":[1,"2"]}`),
			wantErr: `returned more than one sample with pod="a": aggregate by (pod)`},
		{name: "a native histogram has no float value, and is no 0", body: vector(`{"metric":{"pod":"a"},"histogram":[1,{"count":"2"}]}`),
			wantErr: `the sample with pod="a": no [timestamp, value] pair`},
		{name: "unquoted value", body: vector(`{"metric":{"pod":"a"},"value":[1,2]}`), wantErr: "sample value must be a quoted string"},
		{name: "scalar", body: `{"status":"success","data":{"resultType":"scalar","result":[1,"1"]}}`, wantErr: "returned a scalar, want an instant vector"},
		{name: "matrix", body: `{"status":"success","data":{"resultType":"matrix","result":[]}}`, wantErr: "returned a matrix, want an instant vector"},
		{name: "error answer", body: `{"status":"error","errorType":"timeout","error":"query timed out"}`, wantErr: "failed: timeout: query timed out"},
		{name: "Prometheus's error names the HTTP status it came with", status: http.StatusInternalServerError,
			body: `{"status":"error","errorType":"internal","error":"query processing panic"}`, wantErr: "failed with HTTP 500: internal: query processing panic"},
		{name: "a gateway's JSON is no Prometheus error", status: http.StatusServiceUnavailable, body: `{"message":"no healthy upstream"}`,
			wantErr: `answered HTTP 503 without a Prometheus error: {"message":"no healthy upstream"}`},
		{name: "a null body", status: http.StatusBadGateway, body: `null`, wantErr: "answered HTTP 502 without a Prometheus error: null"},
		{name: "a failed status's JSON that is no object", status: http.StatusServiceUnavailable, body: `"upstream down"`,
			wantErr: `answered HTTP 503 without a Prometheus error: "upstream down"`},
		{name: "a success under a failed status", status: http.StatusServiceUnavailable, body: vector(`{"metric":{"pod":"a"},"value":[1,"1"]}`),
			wantErr: "answered HTTP 503 without a Prometheus error: "},
		{name: "a 200 that is no envelope", body: `{"message":"ok"}`, wantErr: `answered HTTP 200 without a Prometheus error: {"message":"ok"}`},
		{name: "a body that is no UTF-8 is shown as UTF-8", status: http.StatusServiceUnavailable, body: "{\"message\":\"\xff\"}",
			wantErr: `answered HTTP 503 without a Prometheus error: {"message":"?"}`},
		{name: "warnings make a partial answer", body: `{"status":"success","warnings":["partial response: store 10.0.0.7:10901 unavailable","remote read failed"],` +
			`"data":{"resultType":"vector","result":[{"metric":{"pod":"a"},"value":[1,"0"]}]}}`,
			wantErr: "returned a partial answer: partial response: store 10.0.0.7:10901 unavailable (and 1 more)"},
		{name: "one warning", body: `{"status":"success","warnings":["remote read failed"],"data":{"resultType":"vector","result":[]}}`,
			wantErr: "returned a partial answer: remote read failed"},
		{name: "infos leave the answer whole", body: `{"status":"success","infos":["PromQL info: metric might not be a counter, name does not end in _total/_sum/_count/_bucket: \"errors\""],` +
			`"data":{"resultType":"vector","result":[{"metric":{"pod":"a"},"value":[1,"0.5"]}]}}`, want: map[string]float64{"a": 0.5}},
		{name: "infos among the warnings (Prometheus 2.46 to 2.53, Thanos) leave the answer whole",
			body: `{"status":"success","warnings":["PromQL info: metric might not be a counter, name does not end in _total/_sum/_count/_bucket: \"errors\""],` +
				`"data":{"resultType":"vector","result":[{"metric":{"pod":"a"},"value":[1,"0.5"]}]}}`, want: map[string]float64{"a": 0.5}},
		{name: "a warning beside infos makes a partial answer", body: `{"status":"success","warnings":["PromQL info: metric might not be a counter","remote read failed"],"data":{"resultType":"vector","result":[]}}`,
			wantErr: "returned a partial answer: remote read failed"},
		{name: "not JSON", body: `<html>`, wantErr: "returned a malformed answer"},
		{name: "result not a list", body: `{"status":"success","data":{"resultType":"vector","result":{}}}`, wantErr: "the result is not a list"},
		{name: "too many samples", body: vector(strings.TrimSuffix(strings.Repeat(`{"metric":{},"value":[1,"1"]},`, MaxPrometheusSamples+1), ",")),
			wantErr: fmt.Sprintf("returned more than %d samples", MaxPrometheusSamples)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DecodeAnswer(cmp.Or(tc.status, http.StatusOK), []byte(tc.body))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			for pod, v := range tc.want {
				if g, ok := got[pod]; !ok || (g != v && !(math.IsNaN(g) && math.IsNaN(v))) {
					t.Fatalf("got %v, want %v", got, tc.want)
				}
			}
		})
	}
}

// TestDecodeAnswerKeepsNaNAndInf: a 0/0 ratio is NaN, and a NaN is what
// Prometheus answered, not a failure; docs/policies.md says how a condition
// lets it pass.
func TestDecodeAnswerKeepsNaNAndInf(t *testing.T) {
	got, err := DecodeAnswer(http.StatusOK, []byte(`{"status":"success","data":{"resultType":"vector","result":[`+
		`{"metric":{"pod":"idle"},"value":[1,"NaN"]},{"metric":{"pod":"up"},"value":[1,"+Inf"]},{"metric":{"pod":"down"},"value":[1,"-Inf"]}]}}`))
	if err != nil {
		t.Fatal(err)
	}
	if !math.IsNaN(got["idle"]) || !math.IsInf(got["up"], 1) || !math.IsInf(got["down"], -1) {
		t.Fatalf("got %v, want NaN, +Inf and -Inf", got)
	}
}
