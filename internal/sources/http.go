package sources

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/sync/semaphore"

	"github.com/readygate/readygate/internal/cel"
)

// MaxBodyBytes caps what is read of a response body.
const MaxBodyBytes = 1 << 20

// Rules are the administrator's limits on what tenants' sources reach.
type Rules struct {
	Reach
	// PrometheusURLs is --prometheus-allowed-urls.
	PrometheusURLs URLAllowlist
	// PrometheusNamespaceHeader is --prometheus-namespace-header.
	PrometheusNamespaceHeader HeaderName
}

// Client makes the requests to pods and to Prometheus. Redirects are never
// followed, so a pod cannot send the operator anywhere else, and every dial
// to a pod is checked against the deny list.
type Client struct {
	plain, insecure *http.Client
	rules           Rules
	parsing         *semaphore.Weighted
}

// MaxHeaderBytes caps a response's headers, which nothing reads: Go's
// default, 10 MiB, would let a pod's answer hold ten times its body's cap.
// A fetch that reads its body holds HeaderBytes for them meanwhile, as
// parsed headers take a few times their size.
const (
	MaxHeaderBytes = 32 << 10
	HeaderBytes    = 4 * MaxHeaderBytes
)

// NewClient returns a client whose connection pool suits polling many pods.
func NewClient(rules Rules) *Client {
	mk := func(insecure bool) *http.Client {
		return &http.Client{
			Transport: &http.Transport{
				DialContext:            (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second, Control: rules.checkDial}).DialContext,
				MaxIdleConns:           4096,
				MaxIdleConnsPerHost:    4,
				IdleConnTimeout:        90 * time.Second,
				TLSClientConfig:        &tls.Config{InsecureSkipVerify: insecure, MinVersion: tls.VersionTLS12}, //nolint:gosec // opt-in per policy
				DisableCompression:     false,
				MaxResponseHeaderBytes: MaxHeaderBytes,
			},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	return &Client{plain: mk(false), insecure: mk(true), rules: rules, parsing: semaphore.NewWeighted(ParseBudget)}
}

// Request is one GET against a pod.
type Request struct {
	URL                string
	Headers            map[string]string
	Accept             string
	Timeout            time.Duration
	InsecureSkipVerify bool
	// Families, when not nil, are the only metric names a scrape keeps: the
	// ones the policy reads. A scrape is kept until the next one, so keeping
	// all its series would cost memory for nothing.
	Families []string
}

// get performs the request and reads at most limit bytes of the body.
func (c *Client) get(ctx context.Context, r Request, limit int64) (*http.Response, []byte, time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, r.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.URL, nil)
	if err != nil {
		return nil, nil, 0, err
	}
	for k, v := range r.Headers {
		req.Header.Set(k, v)
	}
	if r.Accept != "" {
		req.Header.Set("Accept", r.Accept)
	}
	req.Header.Set("User-Agent", "readygate")
	hc := c.plain
	if r.InsecureSkipVerify {
		hc = c.insecure
	}
	start := time.Now()
	resp, err := hc.Do(req)
	if err != nil {
		return nil, nil, time.Since(start), err
	}
	defer func() { _ = resp.Body.Close() }()
	if err := Reserve(ctx); err != nil {
		return nil, nil, time.Since(start), err
	}
	body, err := ReadCapped(resp.Body, limit, "the body")
	return resp, body, time.Since(start), err
}

// ReadCapped reads at most limit bytes: a larger body fails at the cap, and
// closing it then drops the connection rather than reading the rest.
func ReadCapped(r io.Reader, limit int64, what string) ([]byte, error) {
	body, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", what, err)
	}
	if int64(len(body)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", what, limit)
	}
	return body, nil
}

// FetchHTTP performs the http source's GET. A transport failure, a timeout or
// an oversized body is an error (the source is unavailable); any response,
// whatever its status, is a result.
func (c *Client) FetchHTTP(ctx context.Context, r Request) (cel.HTTPResult, error) {
	resp, body, latency, err := c.get(ctx, r, MaxBodyBytes)
	if err != nil {
		return cel.HTTPResult{}, fmt.Errorf("GET %s: %w", r.URL, unwrapURLError(err))
	}
	var res cel.HTTPResult
	contentType := resp.Header.Get("Content-Type")
	if err := c.whileParsing(ctx, body, httpParseBytes(contentType, body), func() { res = HTTPResultOf(resp.StatusCode, contentType, body, latency) }); err != nil {
		return cel.HTTPResult{}, fmt.Errorf("GET %s: %w", r.URL, err)
	}
	return res, nil
}

// HTTPResultOf is the http source's value for one response: the body as
// text, and parsed when it is JSON. What the body got wrong is said in the
// result's error, not returned: the response is still the pod's answer.
func HTTPResultOf(status int, contentType string, body []byte, latency time.Duration) cel.HTTPResult {
	res := cel.HTTPResult{StatusCode: status, LatencyMillis: latency.Milliseconds()}
	var notes []string
	if utf8.Valid(body) {
		res.Body = string(body)
	} else {
		// Cloned: the builder behind ToValidUTF8 keeps the input's size
		// however short the result, and the result is kept between fetches.
		res.Body = strings.Clone(strings.ToValidUTF8(string(body), "\uFFFD"))
		notes = append(notes, "the body is not valid UTF-8")
	}
	if looksLikeJSON(contentType, body) {
		var v any
		if err := json.Unmarshal(body, &v); err != nil {
			notes = append(notes, "the body is not valid JSON: "+err.Error())
		} else {
			res.JSON = v
		}
	}
	res.Error = strings.Join(notes, "; ")
	return res
}

// looksLikeJSON trusts the content type when it names JSON, and otherwise
// sniffs an object or array.
func looksLikeJSON(contentType string, body []byte) bool {
	if mt, _, err := mime.ParseMediaType(contentType); err == nil {
		if mt == "application/json" || strings.HasSuffix(mt, "+json") {
			return true
		}
	}
	trimmed := strings.TrimSpace(string(body[:min(len(body), 64)]))
	return strings.HasPrefix(trimmed, "{") || strings.HasPrefix(trimmed, "[")
}

// unwrapURLError drops the *url.Error wrapper, whose text repeats the URL.
func unwrapURLError(err error) error {
	var ue *url.Error
	if !errors.As(err, &ue) {
		return err
	}
	if ue.Timeout() {
		return timedOut{}
	}
	return ue.Err
}

// timedOut is a request that timed out, told in those words: the deadline
// it ran into is left to errors.Is, not repeated in the message.
type timedOut struct{}

func (timedOut) Error() string { return "timed out" }
func (timedOut) Unwrap() error { return context.DeadlineExceeded }
