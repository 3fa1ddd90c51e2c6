package sources

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

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
		rendered := namespacePlaceholder.ReplaceAllLiteralString(q.Query, namespace)
		if at := strings.Index(rendered, "{{"); at >= 0 {
			errs = append(errs, fmt.Errorf("spec.sources.prometheus.queries[%d].query: %q at byte %d: only {{ .Namespace }} may be substituted, no other template syntax",
				i, excerpt(rendered[at:], 24), at))
			continue
		}
		out[q.Name] = rendered
	}
	return out, errors.Join(errs...)
}

// excerpt cuts s to at most n bytes, for error messages.
func excerpt(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// QueryPrometheus runs every query once, for all pods, and matches the
// samples of each result vector to pods by their pod label.
func QueryPrometheus(ctx context.Context, s PromServer, queries map[string]string) (*PromResult, error) {
	transport, err := promTransport(s)
	if err != nil {
		return nil, err
	}
	// One round per policy and interval: no connection is worth keeping.
	defer transport.CloseIdleConnections()
	var rt http.RoundTripper = transport
	if s.BearerToken != "" {
		rt = bearer{token: s.BearerToken, next: transport}
	}
	c, err := api.NewClient(api.Config{Address: s.Address, RoundTripper: rt})
	if err != nil {
		return nil, fmt.Errorf("prometheus address %q: %w", s.Address, err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.Timeout)
	defer cancel()
	papi := promv1.NewAPI(c)
	res := &PromResult{Values: map[string]map[string]float64{}, Queries: queries}
	for _, name := range sortedKeys(queries) {
		v, _, err := papi.Query(ctx, queries[name], time.Now())
		if err != nil {
			return nil, fmt.Errorf("prometheus query %s (%s) at %s: %w", name, queries[name], s.Address, err)
		}
		vec, ok := v.(model.Vector)
		if !ok {
			return nil, fmt.Errorf("prometheus query %s (%s) returned a %s, want an instant vector", name, queries[name], v.Type())
		}
		for _, sample := range vec {
			pod := string(sample.Metric[PodLabel])
			if pod == "" {
				continue
			}
			if _, dup := res.Values[pod][name]; dup {
				return nil, fmt.Errorf("prometheus query %s (%s) returned more than one sample with %s=%q: aggregate by (%s)", name, queries[name], PodLabel, pod, PodLabel)
			}
			if res.Values[pod] == nil {
				res.Values[pod] = map[string]float64{}
			}
			res.Values[pod][name] = float64(sample.Value)
		}
	}
	return res, nil
}

func promTransport(s PromServer) (*http.Transport, error) {
	tlsCfg := &tls.Config{InsecureSkipVerify: s.InsecureSkipVerify, MinVersion: tls.VersionTLS12} //nolint:gosec // opt-in per policy
	if len(s.CAPEM) > 0 {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(s.CAPEM) {
			return nil, errors.New("spec.sources.prometheus.caSecretRef: no PEM certificate in the secret")
		}
		tlsCfg.RootCAs = pool
	}
	return &http.Transport{TLSClientConfig: tlsCfg, Proxy: http.ProxyFromEnvironment}, nil
}

// bearer adds an Authorization header to every request.
type bearer struct {
	token string
	next  http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return b.next.RoundTrip(r)
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
