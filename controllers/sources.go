package controllers

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/google/cel-go/common/types/ref"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/readygate/readygate/api/v1alpha1"
	"github.com/readygate/readygate/internal/cel"
	"github.com/readygate/readygate/internal/gate"
	"github.com/readygate/readygate/internal/policy"
	"github.com/readygate/readygate/internal/sources"
)

// indexSlicePods indexes EndpointSlices by the names of the pods they target.
const indexSlicePods = "readygate.io/target-pods"

// slicePods returns the names of the pods an EndpointSlice's endpoints target.
func slicePods(obj client.Object) []string {
	slice := obj.(*discoveryv1.EndpointSlice)
	var pods []string
	for _, e := range slice.Endpoints {
		if e.TargetRef != nil && e.TargetRef.Kind == podKind.Kind {
			pods = append(pods, e.TargetRef.Name)
		}
	}
	return pods
}

// sourceGatherer produces the values of a policy's sources for one pod. The
// polled sources come from the poller's latest results, so a slow or dead
// endpoint never holds a reconcile up.
type sourceGatherer struct {
	cache   client.Reader // EndpointSlices, from the manager's cache
	secret  client.Reader // Secrets, read from the API only when a query round needs them
	secrets lastGood
	poller  *sources.Poller
	http    *sources.Client
	// enqueuePod and enqueuePolicy re-evaluate when a polled result changes.
	enqueuePod    func(pod client.ObjectKey)
	enqueuePolicy func(c *policy.Compiled)
}

// sourceValue is one source's value for a pod, or why there is none.
type sourceValue struct {
	val ref.Val
	// fetched is when a polled source's result was fetched; zero for the
	// sources read from the cache.
	fetched time.Time
	// pending is a polled source with no result yet.
	pending bool
	err     error
}

// polled is a polled source's value from the poller's latest result.
func polled(res sources.Result, ok bool, val func(any) ref.Val) sourceValue {
	switch {
	case !ok:
		return sourceValue{pending: true}
	case res.Err != nil:
		return sourceValue{fetched: res.At, err: res.Err}
	}
	return sourceValue{val: val(res.Value), fetched: res.At}
}

// gathered is what an evaluation reads of the policy's sources.
type gathered struct {
	values map[string]ref.Val
	// fetched is when the oldest polled result read was fetched.
	fetched time.Time
	// failed are the sources that failed without a verdict on the pod; they
	// stand in values as unknown.
	failed policy.Failures
	// instead, when set, is the observation to make without evaluating: the
	// pod's own endpoint not answering, or a source with no result yet.
	instead *gate.Observation
}

// gather reads the policy's sources for the pod.
func (g *sourceGatherer) gather(ctx context.Context, c *policy.Compiled, pod *corev1.Pod) gathered {
	src := c.Sources
	if src == nil {
		return gathered{}
	}
	type named struct {
		name string
		sourceValue
	}
	var read []named
	if src.Endpoints != nil {
		read = append(read, named{cel.VarEndpoints, g.endpoints(ctx, pod)})
	}
	if src.HTTP != nil {
		read = append(read, named{cel.VarHTTP, g.httpValue(c, pod)})
	}
	if src.Metrics != nil {
		read = append(read, named{cel.VarMetrics, g.metricsValue(c, pod)})
	}
	if src.Prometheus != nil {
		read = append(read, named{cel.VarPrometheus, g.prometheusValue(c, pod)})
	}
	out := gathered{values: map[string]ref.Val{}}
	var pending []string
	for _, v := range read {
		switch {
		case v.err != nil:
			countError(c.UID, c.Namespace, c.Name, errorSource, v.name)
			obs := policy.SourceFailed(v.name, v.err)
			obs.Fetched = v.fetched
			if policy.Decides(obs) {
				return gathered{instead: &obs}
			}
			out.failed.Add(v.name, obs)
			out.values[v.name] = cel.Unavailable(v.name)
		case v.pending:
			pending = append(pending, v.name)
		default:
			out.values[v.name] = v.val
		}
		if !v.fetched.IsZero() && (out.fetched.IsZero() || v.fetched.Before(out.fetched)) {
			out.fetched = v.fetched
		}
	}
	if len(pending) > 0 {
		return gathered{instead: &gate.Observation{Outcome: gate.OutcomePending, Message: "waiting for the first fetch of " + strings.Join(pending, ", ")}}
	}
	return out
}

func (g *sourceGatherer) endpoints(ctx context.Context, pod *corev1.Pod) sourceValue {
	slices := &discoveryv1.EndpointSliceList{}
	if err := g.cache.List(ctx, slices, client.InNamespace(pod.Namespace), client.MatchingFields{indexSlicePods: pod.Name}); err != nil {
		return sourceValue{err: err}
	}
	return sourceValue{val: cel.EndpointsValue(sources.EndpointsOf(slices.Items, pod))}
}

// podTarget polls one pod endpoint; the key makes policies that read the same
// endpoint of the same pod share one fetch.
func (g *sourceGatherer) podTarget(source string, maxBytes int64, c *policy.Compiled, pod *corev1.Pod, req sources.Request, fetch sources.Fetch) (sources.Result, bool) {
	key := fmt.Sprintf("%s/%s/%s/%s/%v/%v", source, pod.UID, req.URL, req.Timeout, req.Headers, req.Families)
	podKey := client.ObjectKeyFromObject(pod)
	return g.poller.Want(sources.Target{
		Key: key, Owner: fmt.Sprintf("%s/%s/%s", c.UID, source, pod.UID),
		Source: source, Namespace: pod.Namespace, Pod: pod.UID, MaxBytes: maxBytes,
		Interval: c.Settings.Interval, Fetch: fetch,
		OnChange: func() { g.enqueuePod(podKey) },
	})
}

func (g *sourceGatherer) httpValue(c *policy.Compiled, pod *corev1.Pod) sourceValue {
	spec := c.Sources.HTTP
	req, err := g.http.NewRequest(pod, spec.PodEndpoint, "/")
	if err != nil {
		return sourceValue{err: err}
	}
	req.Headers = make(map[string]string, len(spec.Headers))
	for _, h := range spec.Headers {
		req.Headers[h.Name] = h.Value
	}
	res, ok := g.podTarget(cel.VarHTTP, sources.MaxBodyBytes, c, pod, req, func(ctx context.Context) (any, error) {
		r, err := g.http.FetchHTTP(ctx, req)
		return r, err
	})
	return polled(res, ok, func(v any) ref.Val { return cel.HTTPValue(v.(cel.HTTPResult)) })
}

func (g *sourceGatherer) metricsValue(c *policy.Compiled, pod *corev1.Pod) sourceValue {
	req, err := g.http.NewRequest(pod, c.Sources.Metrics.PodEndpoint, sources.DefaultMetricsPath)
	if err != nil {
		return sourceValue{err: err}
	}
	if names, all := c.Program.MetricNames(); !all {
		req.Families = append([]string{}, names...) // none read: keep none
	}
	res, ok := g.podTarget(cel.VarMetrics, sources.MaxScrapeBytes, c, pod, req, func(ctx context.Context) (any, error) {
		return g.http.Scrape(ctx, req)
	})
	return polled(res, ok, func(v any) ref.Val { return v.(*cel.Metrics) })
}

// prometheusValue polls the policy's queries once per interval for all its
// pods and picks this pod's samples.
func (g *sourceGatherer) prometheusValue(c *policy.Compiled, pod *corev1.Pod) sourceValue {
	spec := c.Sources.Prometheus
	queries, err := sources.RenderQueries(spec.Queries, c.Namespace)
	if err != nil {
		return sourceValue{err: err}
	}
	res, ok := g.poller.Want(sources.Target{
		Key:       fmt.Sprintf("prometheus/%s/%d", c.UID, c.Generation),
		Owner:     fmt.Sprintf("%s/prometheus", c.UID),
		Source:    cel.VarPrometheus,
		Namespace: c.Namespace,
		Shared:    sources.ServerOf(spec.Address),
		MaxBytes:  sources.MaxPrometheusBytes,
		Interval:  c.Settings.Interval,
		Fetch: func(ctx context.Context) (any, error) {
			// The round's timeout bounds its Secret reads too: the round
			// holds its namespace's bytes meanwhile.
			ctx, cancel := context.WithTimeout(ctx, promTimeout(spec))
			defer cancel()
			server, err := g.promServer(ctx, c.Namespace, spec)
			if err != nil {
				return nil, err
			}
			return g.http.QueryPrometheus(ctx, server, queries)
		},
		OnChange: func() { g.enqueuePolicy(c) },
	})
	names := make([]string, len(spec.Queries))
	for i, q := range spec.Queries {
		names[i] = q.Name
	}
	return polled(res, ok, func(v any) ref.Val {
		r := v.(*sources.PromResult)
		return cel.PrometheusValue(names, r.Values[pod.Name], func(q string) string { return r.Missing(pod.Name, q) })
	})
}

// promServer reads the policy's Prometheus settings, with the token and CA
// from Secrets of the policy's namespace.
func (g *sourceGatherer) promServer(ctx context.Context, namespace string, spec *v1alpha1.PrometheusSource) (sources.PromServer, error) {
	s := sources.PromServer{Namespace: namespace, Address: spec.Address, InsecureSkipVerify: spec.InsecureSkipVerify, Timeout: promTimeout(spec)}
	var err error
	if spec.BearerTokenSecretRef != nil {
		var token []byte
		if token, err = g.secretKey(ctx, namespace, spec.BearerTokenSecretRef, "bearerTokenSecretRef"); err != nil {
			return s, err
		}
		s.BearerToken = strings.TrimSpace(string(token))
	}
	if spec.CASecretRef != nil {
		if s.CAPEM, err = g.secretKey(ctx, namespace, spec.CASecretRef, "caSecretRef"); err != nil {
			return s, err
		}
	}
	return s, nil
}

// promTimeout bounds one round of the policy's queries.
func promTimeout(spec *v1alpha1.PrometheusSource) time.Duration {
	if spec.Timeout != nil {
		return spec.Timeout.Duration
	}
	return 5 * time.Second
}

func (g *sourceGatherer) secretKey(ctx context.Context, ns string, key *v1alpha1.SecretKeyRef, field string) ([]byte, error) {
	at := secretRef{namespace: ns, name: key.Name, key: key.Key}
	if v, _, fresh := g.secrets.get(at); fresh {
		return v, nil
	}
	secret := &corev1.Secret{}
	if err := g.secret.Get(ctx, client.ObjectKey{Namespace: ns, Name: key.Name}, secret); err != nil {
		// An API server blip must not become an outage: a Secret that was
		// read before keeps its last value until the API says it is gone
		// or forbidden.
		if v, ok, _ := g.secrets.get(at); ok && !apierrors.IsNotFound(err) && !apierrors.IsForbidden(err) {
			return v, nil
		}
		g.secrets.forget(at)
		if apierrors.IsForbidden(err) {
			return nil, fmt.Errorf("spec.sources.prometheus.%s: readygate may not read Secrets in namespace %s: bind the ClusterRole %s to its service account there (docs/install.md#permissions): %w",
				field, ns, sources.SecretReaderClusterRole, err)
		}
		return nil, fmt.Errorf("spec.sources.prometheus.%s: %w", field, err)
	}
	v, ok := secret.Data[key.Key]
	if !ok {
		g.secrets.forget(at)
		return nil, fmt.Errorf("spec.sources.prometheus.%s: secret %s has no key %q", field, key.Name, key.Key)
	}
	g.secrets.set(at, v)
	return v, nil
}
