package sources

import (
	"fmt"
	"math"
	"strings"
	"testing"
)

func TestDecodeAnswer(t *testing.T) {
	vector := func(samples string) string {
		return `{"status":"success","data":{"resultType":"vector","result":[` + samples + `]}}`
	}
	cases := []struct {
		name    string
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
		{name: "not JSON", body: `<html>`, wantErr: "returned a malformed answer"},
		{name: "result not a list", body: `{"status":"success","data":{"resultType":"vector","result":{}}}`, wantErr: "the result is not a list"},
		{name: "too many samples", body: vector(strings.TrimSuffix(strings.Repeat(`{"metric":{},"value":[1,"1"]},`, MaxPrometheusSamples+1), ",")),
			wantErr: fmt.Sprintf("returned more than %d samples", MaxPrometheusSamples)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DecodeAnswer([]byte(tc.body))
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
