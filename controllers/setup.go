// Package controllers holds readygate's reconcilers: PolicyReconciler
// (compile, conflicts, finalizer, status) and PodGateReconciler (evaluate and
// write each pod's condition).
package controllers

import (
	"cmp"
	"context"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apiserver/pkg/cel/openapi/resolver"
	"k8s.io/client-go/discovery"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	eventsclient "k8s.io/client-go/kubernetes/typed/events/v1"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/event"

	"github.com/readygate/readygate/api/v1alpha1"
	"github.com/readygate/readygate/internal/cel"
	"github.com/readygate/readygate/internal/gate"
	"github.com/readygate/readygate/internal/podcache"
	"github.com/readygate/readygate/internal/policy"
	"github.com/readygate/readygate/internal/sources"
)

// LeaderElectionID names the Lease the operator's replicas compete for: a
// readygate leader holds it.
const LeaderElectionID = "readygate.readygate.io"

// eventSource is the reporting controller of readygate's Events.
const eventSource = "readygate"

// Options tune the reconcilers.
type Options struct {
	// MaxConcurrentReconciles is the number of pods evaluated at once.
	MaxConcurrentReconciles int
	// SourceWorkers is the number of http, metrics and prometheus fetches at once.
	SourceWorkers int
	// SourceRules are where tenants' sources may reach: --source-deny-cidrs,
	// --allow-host-network-sources, --prometheus-allowed-urls.
	SourceRules sources.Rules
	// ReservedConditionTypes are --reserved-condition-types: no policy
	// decides them.
	ReservedConditionTypes policy.ConditionTypes
	// EvaluationCostPerNamespace is --evaluation-cost-per-namespace: the CEL
	// cost one namespace's evaluations may spend a second (0: no limit).
	EvaluationCostPerNamespace int
	// ReleaseBatch is how many of a deleted policy's pods one reconcile
	// releases before the policy waits its turn again (0: 256).
	ReleaseBatch int
}

// Setup registers both reconcilers with the manager; they share the
// compiled programs and the per-pod state.
func Setup(ctx context.Context, mgr ctrl.Manager, env *cel.Env, opts Options) error {
	poller := sources.NewPoller(opts.SourceWorkers, sources.BytesInFlight)
	if err := mgr.Add(poller); err != nil {
		return err
	}
	policies := policy.NewCache(env, opts.SourceRules.PrometheusURLs, opts.ReservedConditionTypes)
	tracker := gate.NewTracker()
	eventsClient, err := eventsclient.NewForConfigAndClient(mgr.GetConfig(), mgr.GetHTTPClient())
	if err != nil {
		return fmt.Errorf("building the Events client: %w", err)
	}
	rec := newEventRecorder(mgr.GetScheme(), eventsClient)
	if err := mgr.Add(rec); err != nil {
		return err
	}
	recount := make(chan event.GenericEvent, 1024)
	counts := newRecounts()
	released := newReleasedTypes()
	index, err := podcache.NewIndex(ctx, mgr.GetCache())
	if err != nil {
		return err
	}
	// A gone pod's sources' targets: its IP goes back to the pool, and
	// whatever answers there next is not the pod (rule 15).
	told := newToldEvents(mgr.GetAPIReader(), mgr.GetCache().WaitForCacheSync, index)
	if err := mgr.Add(told); err != nil {
		return err
	}
	if err := forgetGone(ctx, mgr.GetCache(), &corev1.Pod{}, byUID(poller.ForgetPod), byUID(told.forget)); err != nil {
		return err
	}
	pods := &PodGateReconciler{
		Client: mgr.GetClient(), Policies: policies, Tracker: tracker, Recorder: rec, Recount: recount,
		MaxConcurrentReconciles: opts.MaxConcurrentReconciles,
		SourceClient:            sources.NewClient(opts.SourceRules),
		counts:                  counts,
		pods:                    index,
		share:                   newEvaluationShare(opts.EvaluationCostPerNamespace, max(4, opts.MaxConcurrentReconciles/8)),
		writes:                  newOwnWrites(),
		released:                released,
		told:                    told,
	}
	if err := pods.SetupWithManager(ctx, mgr, poller); err != nil {
		return fmt.Errorf("setting up the pod gate controller: %w", err)
	}
	if err := (&PolicyReconciler{
		Client: mgr.GetClient(), Policies: policies, Tracker: tracker, Recorder: rec, Recount: recount,
		Forget:          pods.cap.forgetPolicy,
		EvaluateUnready: func(namespace, conditionType string) { pods.evaluateUnready(ctx, namespace, conditionType) },
		pods:            index,
		counts:          counts,
		released:        released,
		writes:          pods.writes,
		breaker:         pods.breaker,
		releaseBatch:    cmp.Or(opts.ReleaseBatch, releaseBatch),
		leadingSince:    sync.OnceValue(time.Now),
	}).SetupWithManager(ctx, mgr); err != nil {
		return fmt.Errorf("setting up the policy controller: %w", err)
	}
	return nil
}

// NewScheme returns a scheme with the Kubernetes types and readygate's API:
// everything the manager, and the tests that act as its users, read and write.
func NewScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(s))
	utilruntime.Must(v1alpha1.AddToScheme(s))
	return s
}

// NewCELEnv types `pod` from the cluster's own Pod schema, so expressions are
// checked against the API the cluster serves.
func NewCELEnv(cfg *rest.Config) (*cel.Env, error) {
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, err
	}
	r := &resolver.ClientDiscoveryResolver{Discovery: dc}
	podSchema, err := r.ResolveSchema(podKind)
	if err != nil {
		return nil, fmt.Errorf("resolving the Pod schema from the cluster: %w", err)
	}
	return cel.NewEnv(podSchema)
}
