package sources

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/readygate/readygate/internal/testenv"
)

// allowing returns a client whose allowlist holds the given URLs.
func allowing(t *testing.T, urls ...string) *Client {
	t.Helper()
	var a URLAllowlist
	if err := a.Set(strings.Join(urls, ",")); err != nil {
		t.Fatal(err)
	}
	return NewClient(Rules{PrometheusURLs: a})
}

// promServer answers instant queries as Prometheus does, from a table of
// answers by query, and records the Authorization headers it saw.
func promServer(t *testing.T, answers map[string]string) (*httptest.Server, *atomic.Value) {
	t.Helper()
	var auth atomic.Value
	auth.Store("")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth.Store(r.Header.Get("Authorization"))
		if r.Method != http.MethodPost || r.URL.Path != "/api/v1/query" {
			http.Error(w, "not found", http.StatusNotFound)
			return
		}
		a, ok := answers[r.PostFormValue("query")]
		if !ok {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"status":"error","errorType":"bad_data","error":"parse error"}`))
			return
		}
		_, _ = w.Write([]byte(a))
	}))
	t.Cleanup(srv.Close)
	return srv, &auth
}

func TestQueryPrometheus(t *testing.T) {
	srv, auth := promServer(t, map[string]string{
		"warm": `{"status":"success","data":{"resultType":"vector","result":[` +
			`{"metric":{"pod":"a","namespace":"shop"},"value":[1,"0.97"]},{"metric":{"pod":"b"},"value":[1,"0.5"]},{"metric":{},"value":[1,"3"]}]}}`,
		"scalar": `{"status":"success","data":{"resultType":"scalar","result":[1,"1"]}}`,
	})
	c := allowing(t, srv.URL)
	res, err := c.QueryPrometheus(context.Background(), PromServer{Address: srv.URL, BearerToken: "s3cret", Timeout: 2 * time.Second},
		map[string]string{"warm": "warm"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Values["a"]["warm"] != 0.97 || res.Values["b"]["warm"] != 0.5 || len(res.Values) != 2 {
		t.Fatalf("values %v", res.Values)
	}
	if auth.Load() != "Bearer s3cret" {
		t.Fatalf("Authorization %q", auth.Load())
	}
	_, err = c.QueryPrometheus(context.Background(), PromServer{Address: srv.URL, Timeout: 2 * time.Second}, map[string]string{"one": "scalar"})
	if err == nil || err.Error() != "prometheus query one (scalar) returned a scalar, want an instant vector" {
		t.Fatalf("err = %v", err)
	}
	_, err = c.QueryPrometheus(context.Background(), PromServer{Address: srv.URL, Timeout: 2 * time.Second}, map[string]string{"bad": "up{"})
	if err == nil || err.Error() != "prometheus query bad (up{) failed with HTTP 400: bad_data: parse error" {
		t.Fatalf("err = %v", err)
	}
}

func TestQueryPrometheusRefusesAddressesOutsideTheAllowlist(t *testing.T) {
	srv, auth := promServer(t, nil)
	var hits atomic.Int32
	srv.Config.Handler = http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) })
	for _, c := range []*Client{NewClient(Rules{}), allowing(t, "http://prom.monitoring:9090")} {
		_, err := c.QueryPrometheus(context.Background(), PromServer{Address: srv.URL, BearerToken: "s3cret", Timeout: time.Second}, map[string]string{"q": "up"})
		if err == nil || !strings.Contains(err.Error(), "--prometheus-allowed-urls") {
			t.Fatalf("err = %v", err)
		}
	}
	if hits.Load() != 0 || auth.Load() != "" {
		t.Fatalf("%d requests reached a Prometheus that is not allowed", hits.Load())
	}
}

// A redirect is not followed, so the token never goes to its target.
func TestQueryPrometheusFollowsNoRedirect(t *testing.T) {
	target, targetAuth := promServer(t, map[string]string{"up": `{"status":"success","data":{"resultType":"vector","result":[]}}`})
	var targetHits atomic.Int32
	inner := target.Config.Handler
	target.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { targetHits.Add(1); inner.ServeHTTP(w, r) })
	for _, code := range []int{http.StatusFound, http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		redirecting := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, target.URL+r.URL.Path, code)
		}))
		t.Cleanup(redirecting.Close)
		// Even with the target allowed, the token goes only where the policy said.
		c := allowing(t, redirecting.URL, target.URL)
		_, err := c.QueryPrometheus(context.Background(), PromServer{Address: redirecting.URL, BearerToken: "s3cret", Timeout: time.Second}, map[string]string{"q": "up"})
		if err == nil || !strings.Contains(err.Error(), "redirected to "+target.URL+"/api/v1/query: readygate follows no redirects") {
			t.Fatalf("%d: err = %v", code, err)
		}
	}
	if targetHits.Load() != 0 || targetAuth.Load() != "" {
		t.Fatalf("the redirect was followed: %d requests, Authorization %q", targetHits.Load(), targetAuth.Load())
	}
}

// A 300 MiB answer costs the cap, not 300 MiB: the read stops there and the
// connection is dropped, so the server's writes stop early.
func TestQueryPrometheusCapsTheAnswer(t *testing.T) {
	srv := testenv.StartHugePrometheus(300 << 20)
	t.Cleanup(srv.Close)
	c := allowing(t, srv.URL)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	_, err := c.QueryPrometheus(context.Background(), PromServer{Address: srv.URL, Timeout: 30 * time.Second}, map[string]string{"q": "up"})
	elapsed := time.Since(start)
	runtime.ReadMemStats(&after)
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("the prometheus answer is larger than %d bytes", MaxPrometheusBytes)) {
		t.Fatalf("err = %v", err)
	}
	srv.Close() // waits for the handler, whose writes fail once the client is gone
	if w := srv.Largest.Load(); w > 64<<20 {
		t.Fatalf("the server wrote %d MiB: the client kept reading past the cap", w>>20)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 64<<20 {
		t.Fatalf("reading the answer allocated %d MiB", alloc>>20)
	}
	if elapsed > 10*time.Second {
		t.Fatalf("took %s", elapsed)
	}
}

// With --prometheus-namespace-header the operator, never the policy, names
// the policy's namespace to Prometheus: a proxy in front of it (such as
// prom-label-proxy with -header-name) confines each query to that namespace.
func TestQueryPrometheusNamesThePolicysNamespace(t *testing.T) {
	var seen atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.Store(r.Header.Values("X-Readygate-Namespace"))
		_, _ = w.Write([]byte(`{"status":"success","data":{"resultType":"vector","result":[]}}`))
	}))
	t.Cleanup(srv.Close)
	for _, tc := range []struct {
		header string
		want   []string
	}{{"X-Readygate-Namespace", []string{"shop"}}, {"", nil}} {
		c := allowing(t, srv.URL)
		if err := c.rules.PrometheusNamespaceHeader.Set(tc.header); err != nil {
			t.Fatal(err)
		}
		_, err := c.QueryPrometheus(context.Background(), PromServer{Address: srv.URL, Namespace: "shop", Timeout: 2 * time.Second},
			map[string]string{"q": "up"})
		if err != nil {
			t.Fatal(err)
		}
		if got := seen.Load().([]string); !slices.Equal(got, tc.want) {
			t.Errorf("flag %q: the namespace header was %q, want %q", tc.header, got, tc.want)
		}
	}
}

func TestNamespaceHeaderFlagRefusesHeadersThatMeanSomethingElse(t *testing.T) {
	for v, want := range map[string]string{
		"X Namespace":    "is not an HTTP header name",
		"authorization":  "carries something else",
		"Content-Type":   "carries something else",
		"Host":           "carries something else",
		"X-Scope-OrgID:": "is not an HTTP header name",
	} {
		var h HeaderName
		if err := h.Set(v); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err = %v, want %q", v, err, want)
		}
	}
	var h HeaderName
	if err := h.Set("x-scope-orgid"); err != nil || h.String() != "X-Scope-Orgid" {
		t.Fatalf("%q, %v", h.String(), err)
	}
}
