package rgp

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/readygate/readygate/api/v1alpha1"
	"github.com/readygate/readygate/internal/cel"
	"github.com/readygate/readygate/internal/policy"
	"github.com/readygate/readygate/internal/sources"
)

// liveSources reads a policy's sources now, with the user's permissions:
// EndpointSlices from the API, the pod's endpoints through the API server's
// pods/proxy, Prometheus at --prometheus-url or through the Service proxy.
type liveSources struct {
	cluster       *cluster
	prometheusURL string
}

// gather reads the policy's sources for the pod. accepted says the operator
// accepted the policy, and with it the policy's Prometheus address (it must
// be under --prometheus-allowed-urls): the plugin never sends a request to
// an address a tenant wrote that the operator's administrator did not allow.
func (l *liveSources) gather(ctx context.Context, c *policy.Compiled, pod *corev1.Pod, accepted bool) gathered {
	var g gathered
	s := c.Sources
	if s == nil {
		return g
	}
	if s.Endpoints != nil {
		l.endpoints(ctx, &g, pod)
	}
	if s.HTTP != nil {
		l.http(ctx, &g, pod, s.HTTP)
	}
	if s.Metrics != nil {
		l.metrics(ctx, &g, c, pod)
	}
	if s.Prometheus != nil {
		l.prometheus(ctx, &g, c, pod, accepted)
	}
	return g
}

func (l *liveSources) endpoints(ctx context.Context, g *gathered, pod *corev1.Pod) {
	attrs := authorizationv1.ResourceAttributes{Namespace: pod.Namespace, Verb: "list", Group: discoveryv1.GroupName, Resource: "endpointslices"}
	from := "EndpointSlices of namespace " + pod.Namespace
	slices := &discoveryv1.EndpointSliceList{}
	err := l.cluster.client.List(ctx, slices, client.InNamespace(pod.Namespace))
	switch {
	case apierrors.IsForbidden(err):
		g.unreadable(cel.VarEndpoints, from, "forbidden", permission(attrs))
	case err != nil:
		g.fail(cel.VarEndpoints, from, err)
	default:
		v := cel.EndpointsValue(sources.EndpointsOf(slices.Items, pod))
		g.add(cel.VarEndpoints, from, v, readable(v))
	}
}

// proxyGet GETs a pod endpoint through pods/proxy. ok is false when the
// user may not, after g records so.
func (l *liveSources) proxyGet(ctx context.Context, g *gathered, source string, pod *corev1.Pod, ep v1alpha1.PodEndpoint, defaultPath string, headers map[string]string) (*proxied, bool) {
	target, err := sources.ResolveEndpoint(pod, ep, defaultPath)
	if err != nil {
		g.fail(source, "pod "+pod.Name, err)
		return nil, false
	}
	from := fmt.Sprintf("pods/proxy %s:%s:%d%s", target.Scheme, pod.Name, target.Port, target.Path)
	// As the operator (design rule 15): a finished pod's IP may be another
	// pod's now, and a pod on the host's network is the node.
	switch {
	case sources.Terminal(pod):
		g.unreadable(source, from, "the pod has finished: its IP may be another pod's now, so it is not dialled", "")
		return nil, false
	case pod.Spec.HostNetwork:
		g.unreadable(source, from, "the pod uses the node's network: explain does not reach the node through the API server", "")
		return nil, false
	}
	attrs := authorizationv1.ResourceAttributes{Namespace: pod.Namespace, Verb: "get", Resource: "pods", Subresource: "proxy", Name: pod.Name}
	if !l.cluster.allowed(ctx, attrs) {
		g.unreadable(source, from, "forbidden", permission(attrs))
		return nil, false
	}
	path, query, _ := strings.Cut(target.Path, "?")
	u := l.cluster.config.Host + "/api/v1/namespaces/" + url.PathEscape(pod.Namespace) + "/pods/" +
		url.PathEscape(fmt.Sprintf("%s:%s:%d", target.Scheme, pod.Name, target.Port)) + "/proxy" + path
	if query != "" {
		u += "?" + query
	}
	timeout := sources.DefaultTimeout
	if ep.Timeout != nil {
		timeout = ep.Timeout.Duration
	}
	res, err := get(ctx, l.cluster.http, u, headers, timeout+5*time.Second, sources.MaxScrapeBytes) // the proxy's own hop on top of the pod's timeout
	if err != nil {
		g.fail(source, from, err)
		return nil, false
	}
	if status, ok := apiServerStatus(res); ok {
		if res.status == http.StatusServiceUnavailable || res.status == http.StatusBadGateway {
			g.fail(source, from, fmt.Errorf("the pod does not answer: %s", status.Message))
		} else {
			g.unreadable(source, from, fmt.Sprintf("the API server's pods/proxy answered %d: %s", res.status, status.Message), "")
		}
		return nil, false
	}
	res.from = from
	return res, true
}

// proxied is one response through the API server.
type proxied struct {
	status      int
	contentType string
	body        []byte
	latency     time.Duration
	from        string
}

// get GETs u with the client and reads at most limit bytes of the answer.
func get(ctx context.Context, hc *http.Client, u string, headers map[string]string, timeout time.Duration, limit int64) (*proxied, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	for k, v := range headers {
		if !apiServerHeader(k) {
			req.Header.Set(k, v)
		}
	}
	start := time.Now()
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := sources.ReadCapped(resp.Body, limit, "the answer")
	if err != nil {
		return nil, err
	}
	return &proxied{status: resp.StatusCode, contentType: resp.Header.Get("Content-Type"), body: body, latency: time.Since(start)}, nil
}

// apiServerHeader reports a header the API server acts on itself, which a
// policy's headers must not set on a request made with your credentials:
// who you are (Authorization, Impersonate-*, a front proxy's X-Remote-*).
func apiServerHeader(name string) bool {
	name = http.CanonicalHeaderKey(name)
	return name == "Authorization" || name == "Proxy-Authorization" || name == "Cookie" ||
		strings.HasPrefix(name, "Impersonate-") || strings.HasPrefix(name, "X-Remote-")
}

// apiServerStatus recognises the API server's own answer, a Status object
// with the response's code, when it did not pass the request on (it cannot
// reach the pod, or it will not proxy to its address), as opposed to the
// pod's answer, which is passed through as it is.
func apiServerStatus(r *proxied) (metav1.Status, bool) {
	var status metav1.Status
	if r.status < 400 || json.Unmarshal(r.body, &status) != nil {
		return status, false
	}
	return status, status.Kind == "Status" && status.APIVersion == "v1" && int(status.Code) == r.status
}

func (l *liveSources) http(ctx context.Context, g *gathered, pod *corev1.Pod, spec *v1alpha1.HTTPSource) {
	headers := make(map[string]string, len(spec.Headers))
	for _, h := range spec.Headers {
		headers[h.Name] = h.Value
	}
	res, ok := l.proxyGet(ctx, g, cel.VarHTTP, pod, spec.PodEndpoint, "/", headers)
	if !ok {
		return
	}
	if len(res.body) > sources.MaxBodyBytes {
		g.fail(cel.VarHTTP, res.from, fmt.Errorf("the body is larger than %d bytes", sources.MaxBodyBytes))
		return
	}
	v := cel.HTTPValue(sources.HTTPResultOf(res.status, res.contentType, res.body, res.latency))
	g.add(cel.VarHTTP, res.from, v, readable(v))
}

func (l *liveSources) metrics(ctx context.Context, g *gathered, c *policy.Compiled, pod *corev1.Pod) {
	res, ok := l.proxyGet(ctx, g, cel.VarMetrics, pod, c.Sources.Metrics.PodEndpoint, sources.DefaultMetricsPath, nil)
	if !ok {
		return
	}
	if res.status != http.StatusOK {
		g.fail(cel.VarMetrics, res.from, fmt.Errorf("status %d", res.status))
		return
	}
	h := http.Header{}
	h.Set("Content-Type", res.contentType)
	m, err := sources.ParseMetrics(res.body, h, res.from)
	if err != nil {
		g.fail(cel.VarMetrics, res.from, err)
		return
	}
	g.add(cel.VarMetrics, res.from, m, metricsShown(m, c))
}

func (l *liveSources) prometheus(ctx context.Context, g *gathered, c *policy.Compiled, pod *corev1.Pod, accepted bool) {
	spec := c.Sources.Prometheus
	base, from, attrs, err := l.prometheusBase(spec.Address)
	if err != nil {
		g.fail(cel.VarPrometheus, spec.Address, err)
		return
	}
	if l.prometheusURL == "" && !accepted {
		g.unreadable(cel.VarPrometheus, from, "the operator has not accepted the policy as it is, and with it this address: give --prometheus-url", "")
		return
	}
	if attrs != nil && !l.cluster.allowed(ctx, *attrs) {
		g.unreadable(cel.VarPrometheus, from, "forbidden", permission(*attrs))
		return
	}
	queries, err := sources.RenderQueries(spec.Queries, c.Namespace)
	if err != nil {
		g.fail(cel.VarPrometheus, from, err)
		return
	}
	hc := noRedirects
	if attrs != nil {
		hc = l.cluster.http
	}
	r, err := sources.PromResultOf(queries, func(name, query string) (int, []byte, error) {
		return queryPrometheus(ctx, hc, base, query)
	})
	if err != nil {
		g.fail(cel.VarPrometheus, from, err)
		return
	}
	values := r.Values[pod.Name]
	g.add(cel.VarPrometheus, from, prometheusValue(spec, values, func(q string) string { return r.Missing(pod.Name, q) }), values)
}

// prometheusBase is where to query: --prometheus-url, or the policy's
// address through the API server's Service proxy when it names a Service
// of the cluster (name.namespace.svc), or the address itself. attrs, when
// set, is the permission the Service proxy needs.
func (l *liveSources) prometheusBase(address string) (string, string, *authorizationv1.ResourceAttributes, error) {
	if l.prometheusURL != "" {
		return l.prometheusURL, l.prometheusURL, nil, nil
	}
	u, err := url.Parse(address)
	if err != nil {
		return "", "", nil, fmt.Errorf("spec.sources.prometheus.address %q: %w", address, err)
	}
	labels := strings.Split(u.Hostname(), ".")
	if len(labels) < 3 || labels[2] != "svc" {
		return address, address, nil, nil
	}
	svc, svcNamespace := labels[0], labels[1]
	port := u.Port()
	if port == "" {
		port = map[string]string{"https": "443"}[u.Scheme]
	}
	if port == "" {
		port = "80"
	}
	proxy := fmt.Sprintf("%s:%s:%s", u.Scheme, svc, port)
	base := l.cluster.config.Host + "/api/v1/namespaces/" + url.PathEscape(svcNamespace) + "/services/" + url.PathEscape(proxy) + "/proxy" + strings.TrimSuffix(u.Path, "/")
	attrs := &authorizationv1.ResourceAttributes{Namespace: svcNamespace, Verb: "get", Resource: "services", Subresource: "proxy", Name: svc}
	return base, "services/proxy " + proxy + " in namespace " + svcNamespace, attrs, nil
}

// noRedirects queries a Prometheus outside the cluster: as the operator, it
// follows no redirect, so an answer cannot send the plugin elsewhere.
var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// queryPrometheus GETs one instant query.
func queryPrometheus(ctx context.Context, hc *http.Client, base, query string) (int, []byte, error) {
	u := strings.TrimSuffix(base, "/") + "/api/v1/query?" + url.Values{"query": {query}, "time": {strconv.FormatInt(time.Now().Unix(), 10)}}.Encode()
	res, err := get(ctx, hc, u, nil, 10*time.Second, sources.MaxPrometheusBytes)
	if err != nil {
		return 0, nil, err
	}
	if res.status/100 != 2 && !json.Valid(res.body) {
		return 0, nil, fmt.Errorf("prometheus answered status %d", res.status)
	}
	return res.status, res.body, nil
}
