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
		if e.TargetRef != nil && e.TargetRef.Kind == "Pod" {
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

// gather returns the source values, or the observation to make instead of
// evaluating: a source that failed (SourceUnavailable) or has no result yet.
func (g *sourceGatherer) gather(ctx context.Context, c *policy.Compiled, pod *corev1.Pod) (map[string]ref.Val, *gate.Observation) {
	src := c.Sources
	if src == nil {
		return nil, nil
	}
	vals := map[string]ref.Val{}
	var pending []string
	add := func(name string, v ref.Val, ok bool, err error) *gate.Observation {
		switch {
		case err != nil:
			countError(c.Namespace, c.Name, errorSource, name)
			obs := policy.SourceFailed(name, err)
			return &obs
		case !ok:
			pending = append(pending, name)
		default:
			vals[name] = v
		}
		return nil
	}
	if src.Endpoints != nil {
		v, err := g.endpoints(ctx, pod)
		if obs := add(cel.VarEndpoints, v, true, err); obs != nil {
			return nil, obs
		}
	}
	if src.HTTP != nil {
		v, ok, err := g.httpValue(c, pod)
		if obs := add(cel.VarHTTP, v, ok, err); obs != nil {
			return nil, obs
		}
	}
	if src.Metrics != nil {
		v, ok, err := g.metricsValue(c, pod)
		if obs := add(cel.VarMetrics, v, ok, err); obs != nil {
			return nil, obs
		}
	}
	if src.Prometheus != nil {
		v, ok, err := g.prometheusValue(c, pod)
		if obs := add(cel.VarPrometheus, v, ok, err); obs != nil {
			return nil, obs
		}
	}
	if len(pending) > 0 {
		return nil, &gate.Observation{Outcome: gate.OutcomePending, Message: "waiting for the first fetch of " + strings.Join(pending, ", ")}
	}
	return vals, nil
}

func (g *sourceGatherer) endpoints(ctx context.Context, pod *corev1.Pod) (ref.Val, error) {
	slices := &discoveryv1.EndpointSliceList{}
	if err := g.cache.List(ctx, slices, client.InNamespace(pod.Namespace), client.MatchingFields{indexSlicePods: pod.Name}); err != nil {
		return nil, err
	}
	return cel.EndpointsValue(sources.EndpointsOf(slices.Items, pod)), nil
}

// podTarget polls one pod endpoint; the key makes policies that read the same
// endpoint of the same pod share one fetch.
func (g *sourceGatherer) podTarget(source string, maxBytes int64, c *policy.Compiled, pod *corev1.Pod, req sources.Request, fetch sources.Fetch) (sources.Result, bool) {
	key := fmt.Sprintf("%s/%s/%s/%s/%v/%v", source, pod.UID, req.URL, req.Timeout, req.Headers, req.Families)
	podKey := client.ObjectKeyFromObject(pod)
	return g.poller.Want(sources.Target{
		Key: key, Source: source, Namespace: pod.Namespace, Pod: pod.UID, MaxBytes: maxBytes,
		Interval: c.Settings.Interval, Fetch: fetch,
		OnChange: func() { g.enqueuePod(podKey) },
	})
}

func (g *sourceGatherer) httpValue(c *policy.Compiled, pod *corev1.Pod) (ref.Val, bool, error) {
	spec := c.Sources.HTTP
	req, err := g.http.NewRequest(pod, spec.PodEndpoint, "/")
	if err != nil {
		return nil, false, err
	}
	req.Headers = make(map[string]string, len(spec.Headers))
	for _, h := range spec.Headers {
		req.Headers[h.Name] = h.Value
	}
	res, ok := g.podTarget(cel.VarHTTP, sources.MaxBodyBytes, c, pod, req, func(ctx context.Context) (any, error) {
		r, err := g.http.FetchHTTP(ctx, req)
		return r, err
	})
	if !ok || res.Err != nil {
		return nil, ok, res.Err
	}
	return cel.HTTPValue(res.Value.(cel.HTTPResult)), true, nil
}

func (g *sourceGatherer) metricsValue(c *policy.Compiled, pod *corev1.Pod) (ref.Val, bool, error) {
	req, err := g.http.NewRequest(pod, c.Sources.Metrics.PodEndpoint, sources.DefaultMetricsPath)
	if err != nil {
		return nil, false, err
	}
	if names, all := c.Program.MetricNames(); !all {
		req.Families = append([]string{}, names...) // none read: keep none
	}
	res, ok := g.podTarget(cel.VarMetrics, sources.MaxScrapeBytes, c, pod, req, func(ctx context.Context) (any, error) {
		return g.http.Scrape(ctx, req)
	})
	if !ok || res.Err != nil {
		return nil, ok, res.Err
	}
	return res.Value.(*cel.Metrics), true, nil
}

// prometheusValue polls the policy's queries once per interval for all its
// pods and picks this pod's samples.
func (g *sourceGatherer) prometheusValue(c *policy.Compiled, pod *corev1.Pod) (ref.Val, bool, error) {
	spec := c.Sources.Prometheus
	queries, err := sources.RenderQueries(spec.Queries, c.Namespace)
	if err != nil {
		return nil, false, err
	}
	res, ok := g.poller.Want(sources.Target{
		Key:       fmt.Sprintf("prometheus/%s/%d", c.UID, c.Generation),
		Source:    cel.VarPrometheus,
		Namespace: c.Namespace,
		MaxBytes:  sources.MaxPrometheusBytes,
		Interval:  c.Settings.Interval,
		Fetch: func(ctx context.Context) (any, error) {
			server, err := g.promServer(ctx, c.Namespace, spec)
			if err != nil {
				return nil, err
			}
			return g.http.QueryPrometheus(ctx, server, queries)
		},
		OnChange: func() { g.enqueuePolicy(c) },
	})
	if !ok || res.Err != nil {
		return nil, ok, res.Err
	}
	r := res.Value.(*sources.PromResult)
	names := make([]string, len(spec.Queries))
	for i, q := range spec.Queries {
		names[i] = q.Name
	}
	return cel.PrometheusValue(names, r.Values[pod.Name], func(q string) string { return r.Missing(pod.Name, q) }), true, nil
}

// promServer reads the policy's Prometheus settings, with the token and CA
// from Secrets of the policy's namespace.
func (g *sourceGatherer) promServer(ctx context.Context, namespace string, spec *v1alpha1.PrometheusSource) (sources.PromServer, error) {
	s := sources.PromServer{Address: spec.Address, InsecureSkipVerify: spec.InsecureSkipVerify, Timeout: 5 * time.Second}
	if spec.Timeout != nil {
		s.Timeout = spec.Timeout.Duration
	}
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

func (g *sourceGatherer) secretKey(ctx context.Context, ns string, key *v1alpha1.SecretKeyRef, field string) ([]byte, error) {
	secret := &corev1.Secret{}
	at := secretRef{namespace: ns, name: key.Name, key: key.Key}
	if err := g.secret.Get(ctx, client.ObjectKey{Namespace: ns, Name: key.Name}, secret); err != nil {
		// An API server blip must not become an outage: a Secret that was
		// read before keeps its last value until the API says it is gone
		// or forbidden.
		if v, ok := g.secrets.get(at); ok && !apierrors.IsNotFound(err) && !apierrors.IsForbidden(err) {
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
