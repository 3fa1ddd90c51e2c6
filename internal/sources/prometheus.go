package sources

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/readygate/readygate/api/v1alpha1"
)

// SecretReaderClusterRole is the ClusterRole (config/rbac) that lets the
// operator read the token and CA Secrets of a namespace where it is bound to
// its service account. It is bound nowhere by default: a cluster-wide grant
// would let the operator read every Secret.
const SecretReaderClusterRole = "readygate-secret-reader"

// PodLabel is the label that matches a PromQL sample to a pod.
const PodLabel = "pod"

// PromServer says how to reach a Prometheus server.
type PromServer struct {
	// Namespace is the policy's, named in --prometheus-namespace-header.
	Namespace          string
	Address            string
	BearerToken        string
	CAPEM              []byte
	InsecureSkipVerify bool
	Timeout            time.Duration
}

// PromResult is one round of a policy's queries: each query's value by pod.
type PromResult struct {
	// Values maps a pod name to its value for each query that has a sample for it.
	Values map[string]map[string]float64
	// Queries are the rendered queries, by name, for messages.
	Queries map[string]string
}

// Missing explains why a pod has no value for a query.
func (r *PromResult) Missing(pod, query string) string {
	return fmt.Sprintf("prometheus query %s (%s) returned no sample with %s=%q", query, r.Queries[query], PodLabel, pod)
}

// namespacePlaceholder matches the one substitution a query may use,
// {{ .Namespace }} with any spacing; any other "{{" is an error. A plain
// substitution, not a template engine: a tenant's query cannot loop,
// allocate or read anything but the policy's namespace.
var namespacePlaceholder = regexp.MustCompile(`\{\{\s*\.Namespace\s*\}\}`)

// RenderQueries replaces {{ .Namespace }} in each query with the policy's
// namespace and returns the queries by name.
func RenderQueries(queries []v1alpha1.PrometheusQuery, namespace string) (map[string]string, error) {
	out := make(map[string]string, len(queries))
	var errs []error
	for i, q := range queries {
		rendered, err := RenderQuery(q.Query, namespace)
		if err != nil {
			errs = append(errs, fmt.Errorf("spec.sources.prometheus.queries[%d].query: %w", i, err))
			continue
		}
		out[q.Name] = rendered
	}
	return out, errors.Join(errs...)
}

// RenderQuery substitutes the namespace into one query, or says which other
// template syntax it holds.
func RenderQuery(query, namespace string) (string, error) {
	rendered := namespacePlaceholder.ReplaceAllLiteralString(query, namespace)
	if at := strings.Index(rendered, "{{"); at >= 0 {
		return "", fmt.Errorf("%q at byte %d: only {{ .Namespace }} may be substituted, no other template syntax", excerpt(rendered[at:], 24), at)
	}
	return rendered, nil
}

// excerpt cuts s to at most n bytes, for error messages.
func excerpt(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// QueryPrometheus runs every query once, for all pods, and matches the
// samples of each result vector to pods by their pod label. The address must
// be under --prometheus-allowed-urls: nothing, the token least of all, goes
// anywhere else, and no redirect is followed.
func (c *Client) QueryPrometheus(ctx context.Context, s PromServer, queries map[string]string) (*PromResult, error) {
	if err := c.rules.PrometheusURLs.Allows(s.Address); err != nil {
		return nil, err
	}
	endpoint, err := url.JoinPath(s.Address, "api/v1/query")
	if err != nil {
		return nil, fmt.Errorf("prometheus address %q: %w", s.Address, err)
	}
	transport, err := promTransport(s)
	if err != nil {
		return nil, err
	}
	// One round per policy and interval: no connection is worth keeping.
	defer transport.CloseIdleConnections()
	hc := &http.Client{Transport: transport, CheckRedirect: func(r *http.Request, _ []*http.Request) error {
		return fmt.Errorf("prometheus at %s redirected to %s: readygate follows no redirects from Prometheus; set spec.sources.prometheus.address to the final URL", s.Address, r.URL.Redacted())
	}}
	header := http.Header{}
	if s.BearerToken != "" {
		header.Set("Authorization", "Bearer "+s.BearerToken)
	}
	if h := c.rules.PrometheusNamespaceHeader; h != "" {
		header.Set(string(h), s.Namespace)
	}
	ctx, cancel := context.WithTimeout(ctx, s.Timeout)
	defer cancel()
	return PromResultOf(queries, func(name, query string) (int, []byte, error) {
		status, body, err := queryOnce(ctx, hc, endpoint, header, query)
		if err != nil {
			return 0, nil, fmt.Errorf("prometheus query %s (%s) at %s: %w", name, query, s.Address, err)
		}
		return status, body, nil
	})
}

// PromResultOf runs every query through answer, which returns the HTTP status
// and body of Prometheus's answer to one instant query, and matches the
// samples of each result vector to pods by their pod label.
func PromResultOf(queries map[string]string, answer func(name, query string) (int, []byte, error)) (*PromResult, error) {
	res := &PromResult{Values: map[string]map[string]float64{}, Queries: queries}
	for _, name := range sortedKeys(queries) {
		status, body, err := answer(name, queries[name])
		if err != nil {
			return nil, err
		}
		values, err := DecodeAnswer(status, body)
		if err != nil {
			return nil, fmt.Errorf("prometheus query %s (%s) %w", name, queries[name], err)
		}
		for pod, v := range values {
			if res.Values[pod] == nil {
				res.Values[pod] = map[string]float64{}
			}
			res.Values[pod][name] = v
		}
	}
	return res, nil
}

// queryOnce POSTs one instant query, as Prometheus's own client does, and
// reads at most MaxPrometheusBytes of the answer, whatever its status: an
// error answer is JSON that says what was wrong.
func queryOnce(ctx context.Context, hc *http.Client, endpoint string, header http.Header, query string) (int, []byte, error) {
	Release(ctx) // the previous query's answer is decoded
	form := url.Values{"query": {query}, "time": {strconv.FormatInt(time.Now().Unix(), 10)}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return 0, nil, err
	}
	req.Header = header.Clone()
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("User-Agent", "readygate")
	resp, err := hc.Do(req)
	if err != nil {
		return 0, nil, unwrapURLError(err)
	}
	defer func() { _ = resp.Body.Close() }()
	if err := Reserve(ctx); err != nil {
		return 0, nil, err
	}
	body, err := ReadCapped(resp.Body, MaxPrometheusBytes, "the prometheus answer")
	if err != nil {
		return 0, nil, err
	}
	if resp.StatusCode/100 != 2 && !json.Valid(body) {
		return 0, nil, fmt.Errorf("status %d: %s", resp.StatusCode, excerpt(strings.ToValidUTF8(string(body), "?"), 256))
	}
	return resp.StatusCode, body, nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// promTransport trusts the policy's CA, if any. Its proxy is the
// environment's, as an administrator may route Prometheus traffic so.
func promTransport(s PromServer) (*http.Transport, error) {
	tlsCfg := &tls.Config{InsecureSkipVerify: s.InsecureSkipVerify, MinVersion: tls.VersionTLS12} //nolint:gosec // opt-in per policy
	if len(s.CAPEM) > 0 {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(s.CAPEM) {
			return nil, errors.New("spec.sources.prometheus.caSecretRef: no PEM certificate in the secret")
		}
		tlsCfg.RootCAs = pool
	}
	return &http.Transport{TLSClientConfig: tlsCfg, Proxy: http.ProxyFromEnvironment, MaxResponseHeaderBytes: MaxHeaderBytes}, nil
}
