package sources

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"
)

// ParseMetrics returns the series the body holds, and no made-up ones.
func TestParseMetricsFabricatesNothing(t *testing.T) {
	cases := []struct {
		name, body string
		want       []string // name{labels}=value, sorted
	}{
		{name: "a histogram with only _bucket lines has no _sum, _count or +Inf bucket",
			body: "# TYPE lat histogram\nlat_bucket{le=\"0.5\"} 1\nlat_bucket{le=\"1\"} 3\n",
			want: []string{`lat_bucket{le=0.5}=1`, `lat_bucket{le=1}=3`}},
		{name: "a complete histogram",
			body: "# TYPE lat histogram\nlat_bucket{le=\"1\"} 1\nlat_bucket{le=\"+Inf\"} 2\nlat_sum 1.5\nlat_count 2\n",
			want: []string{`lat_bucket{le=+Inf}=2`, `lat_bucket{le=1}=1`, `lat_count{}=2`, `lat_sum{}=1.5`}},
		{name: "a histogram with _count but no _sum",
			body: "# TYPE lat histogram\nlat_bucket{le=\"+Inf\"} 4\nlat_count 4\n",
			want: []string{`lat_bucket{le=+Inf}=4`, `lat_count{}=4`}},
		{name: "a summary with only quantiles",
			body: "# TYPE rpc summary\nrpc{quantile=\"0.99\",m=\"get\"} 0.2\n",
			want: []string{`rpc{m=get,quantile=0.99}=0.2`}},
		{name: "a summary with _sum only",
			body: "# TYPE rpc summary\nrpc_sum 7\n",
			want: []string{`rpc_sum{}=7`}},
		{name: "gauge, counter, untyped",
			body: "# TYPE g gauge\ng{a=\"1\"} 0.5\n# TYPE c counter\nc_total 3\nu 9\n",
			want: []string{`c_total{}=3`, `g{a=1}=0.5`, `u{}=9`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, err := ParseMetrics([]byte(tc.body), http.Header{"Content-Type": {"text/plain; version=0.0.4"}}, "test")
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for name, samples := range m.Families {
				for _, s := range samples {
					var ls []string
					for k, v := range s.Labels {
						ls = append(ls, k+"="+v)
					}
					sort.Strings(ls)
					got = append(got, fmt.Sprintf("%s{%s}=%g", name, strings.Join(ls, ","), s.Value))
				}
			}
			sort.Strings(got)
			if strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Fatalf("got  %v\nwant %v", got, tc.want)
			}
		})
	}
}

// A scrape of exactly the cap parses; one byte more fails with the cap named.
func TestScrapeAtTheCap(t *testing.T) {
	body := func(n int) string {
		line := "# padding to the cap\n"
		pad := strings.Repeat("#", n-len("up 1\n")-len(line)-1) + "\n"
		return line + pad + "up 1\n"
	}
	for _, tc := range []struct {
		size    int
		wantErr string
	}{
		{size: MaxScrapeBytes},
		{size: MaxScrapeBytes + 1, wantErr: fmt.Sprintf("the body is larger than %d bytes", MaxScrapeBytes)},
	} {
		b := body(tc.size)
		if len(b) != tc.size {
			t.Fatalf("body of %d bytes, want %d", len(b), tc.size)
		}
		url := serve(t, func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(b)) })
		m, err := NewClient(Rules{}).Scrape(context.Background(), Request{URL: url + "/metrics", Timeout: 5 * time.Second})
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("%d bytes: err = %v", tc.size, err)
			}
			continue
		}
		if err != nil || len(m.Families["up"]) != 1 {
			t.Fatalf("%d bytes: %v %v", tc.size, err, m)
		}
	}
}

// A pod that answers in protobuf, which the scrape never asks for, is
// refused before any of it is decoded: a delimited length of 2^62 bytes
// once made the decoder allocate that much and take the process down.
func TestScrapeRefusesProtobuf(t *testing.T) {
	const protobuf = "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited"
	huge := []byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x40}
	if _, err := ParseMetrics(huge, http.Header{"Content-Type": {protobuf}}, "pod"); err == nil || !strings.Contains(err.Error(), "protobuf") {
		t.Fatalf("ParseMetrics: err = %v, want the protobuf format refused", err)
	}
	url := serve(t, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", protobuf)
		_, _ = w.Write(huge)
	})
	_, err := NewClient(Rules{}).Scrape(context.Background(), Request{URL: url + "/metrics", Timeout: 5 * time.Second})
	if err == nil || !strings.Contains(err.Error(), url+"/metrics") || !strings.Contains(err.Error(), "text/plain or OpenMetrics") {
		t.Fatalf("Scrape: err = %v, want the URL and the formats it reads named", err)
	}
}
