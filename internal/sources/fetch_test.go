package sources

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

func serve(t *testing.T, h http.HandlerFunc) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestFetchHTTP(t *testing.T) {
	c := NewClient(Rules{})
	ctx := context.Background()
	cases := []struct {
		name    string
		handler http.HandlerFunc
		timeout time.Duration
		check   func(t *testing.T, status int, body string, json any, note string)
		wantErr string
	}{
		{name: "JSON by content type", handler: func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"ok": true, "n": 3}`))
		}, check: func(t *testing.T, status int, body string, js any, note string) {
			if status != 200 || js.(map[string]any)["ok"] != true || note != "" {
				t.Fatalf("status %d json %v note %q", status, js, note)
			}
		}},
		{name: "JSON sniffed under the wrong content type", handler: func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			_, _ = w.Write([]byte(` [1, 2]`))
		}, check: func(t *testing.T, _ int, _ string, js any, _ string) {
			if len(js.([]any)) != 2 {
				t.Fatalf("json %v", js)
			}
		}},
		{name: "non-JSON body claiming JSON", handler: func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`<html>oops</html>`))
		}, check: func(t *testing.T, status int, body string, js any, note string) {
			if js != nil || !strings.Contains(note, "not valid JSON") || body != "<html>oops</html>" {
				t.Fatalf("json %v note %q body %q", js, note, body)
			}
		}},
		{name: "plain text", handler: func(w http.ResponseWriter, _ *http.Request) {
			_, _ = w.Write([]byte("ready"))
		}, check: func(t *testing.T, _ int, body string, js any, note string) {
			if body != "ready" || js != nil || note != "" {
				t.Fatalf("body %q json %v note %q", body, js, note)
			}
		}},
		{name: "non-UTF-8 body", handler: func(w http.ResponseWriter, _ *http.Request) {
			_, _ = w.Write([]byte{'o', 'k', 0xff, 0xfe})
		}, check: func(t *testing.T, _ int, body string, _ any, note string) {
			if body != "ok\uFFFD" || !strings.Contains(note, "not valid UTF-8") {
				t.Fatalf("body %q note %q", body, note)
			}
		}},
		{name: "an error status is a result", handler: func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusServiceUnavailable)
		}, check: func(t *testing.T, status int, _ string, _ any, _ string) {
			if status != 503 {
				t.Fatalf("status %d", status)
			}
		}},
		{name: "redirects are not followed", handler: func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "http://192.0.2.1/elsewhere", http.StatusFound)
		}, check: func(t *testing.T, status int, _ string, _ any, _ string) {
			if status != http.StatusFound {
				t.Fatalf("status %d", status)
			}
		}},
		{name: "huge body", handler: func(w http.ResponseWriter, _ *http.Request) {
			_, _ = w.Write(make([]byte, MaxBodyBytes+10))
		}, wantErr: "larger than 1048576 bytes"},
		{name: "slow endpoint", timeout: 100 * time.Millisecond, handler: func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		}, wantErr: "timed out"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			timeout := tc.timeout
			if timeout == 0 {
				timeout = 2 * time.Second
			}
			res, err := c.FetchHTTP(ctx, Request{URL: serve(t, tc.handler) + "/ready", Timeout: timeout})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, res.StatusCode, res.Body, res.JSON, res.Error)
		})
	}
}

func TestFetchHTTPDeadEndpoint(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	_, err = NewClient(Rules{}).FetchHTTP(context.Background(), Request{URL: "http://" + addr + "/", Timeout: time.Second})
	if err == nil || !strings.Contains(err.Error(), "connection refused") || !strings.Contains(err.Error(), addr) {
		t.Fatalf("err = %v", err)
	}
}

func TestScrape(t *testing.T) {
	c := NewClient(Rules{})
	cases := []struct {
		name        string
		contentType string
		body        string
		check       func(t *testing.T, fams map[string]int)
		wantErr     string
	}{
		{name: "text format", contentType: "text/plain; version=0.0.4", body: "# TYPE cache_warm_ratio gauge\ncache_warm_ratio 0.97\n# TYPE req counter\nreq{code=\"200\"} 5\nreq{code=\"500\"} 1\n# TYPE lat histogram\nlat_bucket{le=\"1\"} 1\nlat_bucket{le=\"+Inf\"} 2\nlat_sum 1.5\nlat_count 2\n",
			check: func(t *testing.T, fams map[string]int) {
				if fams["cache_warm_ratio"] != 1 || fams["req"] != 2 || fams["lat_bucket"] != 2 || fams["lat_count"] != 1 {
					t.Fatalf("families %v", fams)
				}
			}},
		{name: "OpenMetrics", contentType: "application/openmetrics-text; version=1.0.0", body: "# TYPE up gauge\nup 1\n# TYPE jobs counter\njobs_total 3\n# EOF\n",
			check: func(t *testing.T, fams map[string]int) {
				if fams["up"] != 1 || fams["jobs_total"] != 1 {
					t.Fatalf("families %v", fams)
				}
			}},
		{name: "malformed", contentType: "text/plain", body: "cache_warm_ratio{oops 0.9\n", wantErr: "malformed metrics"},
		{name: "too many samples", contentType: "text/plain", body: manySeries(MaxSamples + 1), wantErr: "more than 50000 samples"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			url := serve(t, func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", tc.contentType)
				_, _ = w.Write([]byte(tc.body))
			})
			m, err := c.Scrape(context.Background(), Request{URL: url + "/metrics", Timeout: 2 * time.Second})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			fams := map[string]int{}
			for name, s := range m.Families {
				fams[name] = len(s)
			}
			tc.check(t, fams)
		})
	}
}

func TestScrapeErrorStatus(t *testing.T) {
	url := serve(t, func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNotFound) })
	_, err := NewClient(Rules{}).Scrape(context.Background(), Request{URL: url + "/metrics", Timeout: time.Second})
	if err == nil || !strings.Contains(err.Error(), "status 404") {
		t.Fatalf("err = %v", err)
	}
}

func manySeries(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "y{i=%q} 1\n", strconv.Itoa(i))
	}
	return b.String()
}

func TestFetchHTTPS(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("tls")) }))
	t.Cleanup(srv.Close)
	c := NewClient(Rules{})
	_, err := c.FetchHTTP(context.Background(), Request{URL: srv.URL, Timeout: 2 * time.Second})
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("an unverifiable certificate was accepted: %v", err)
	}
	res, err := c.FetchHTTP(context.Background(), Request{URL: srv.URL, Timeout: 2 * time.Second, InsecureSkipVerify: true})
	if err != nil || res.Body != "tls" {
		t.Fatalf("insecureSkipVerify: %v %q", err, res.Body)
	}
}

// A scrape keeps only the metrics the policy reads: it is kept until the
// next one, and the rest would cost memory for nothing.
func TestScrapeKeepsOnlyTheFamiliesAsked(t *testing.T) {
	url := serve(t, func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "read 1\nunread 2\n"+manySeries(100))
	})
	m, err := NewClient(Rules{}).Scrape(context.Background(), Request{URL: url + "/metrics", Timeout: time.Second, Families: []string{"read", "absent"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Families) != 1 || len(m.Families["read"]) != 1 {
		t.Fatalf("kept %v, want only read", m.Families)
	}
}

// A pod that answers with megabytes of headers (nothing reads them) gets
// its fetch failed at MaxHeaderBytes, not read into memory up to Go's
// default of 10 MiB.
func TestResponseHeadersAreCapped(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer func() { _ = conn.Close() }()
				_, _ = io.ReadAll(io.LimitReader(conn, 1)) // the request has begun
				header := "X-Padding: " + strings.Repeat("a", 1000) + "\r\n"
				_, _ = io.WriteString(conn, "HTTP/1.1 200 OK\r\n"+strings.Repeat(header, 2048)+"Content-Length: 2\r\n\r\nok")
			}()
		}
	}()
	_, err = NewClient(Rules{}).FetchHTTP(context.Background(), Request{URL: "http://" + ln.Addr().String() + "/", Timeout: 5 * time.Second})
	if err == nil || !strings.Contains(err.Error(), "header") {
		t.Fatalf("err = %v, want the headers refused", err)
	}
}
