package controllers

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/recorder"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/readygate/readygate/api/v1alpha1"
	"github.com/readygate/readygate/internal/cel"
	"github.com/readygate/readygate/internal/gate"
	"github.com/readygate/readygate/internal/policy"
	"github.com/readygate/readygate/internal/sources"
)

// Event reasons on pods.
const (
	eventGateFlipped  = "GateFlipped"
	eventMissingGate  = "MissingReadinessGate"
	eventEvalFailed   = "EvaluationFailed"
	eventFlipDeferred = "FlipDeferred"
)

// PodGateReconciler evaluates every policy that gates a pod and writes the
// pod's conditions.
type PodGateReconciler struct {
	client.Client
	Programs *policy.Programs
	Tracker  *gate.Tracker
	Recorder recorder.EventRecorder
	// DryRunChanged tells the policy reconciler that a DryRun result moved,
	// since no pod write will.
	DryRunChanged chan<- event.GenericEvent
	// MaxConcurrentReconciles is the number of pods evaluated at once.
	MaxConcurrentReconciles int
	// SourceClient fetches the pods' endpoints and Prometheus within the
	// administrator's rules (tenant safety).
	SourceClient *sources.Client

	sources *sourceGatherer
	// podEvents re-evaluates pods whose polled sources changed.
	podEvents chan event.GenericEvent
}

// +kubebuilder:rbac:groups="",resources=pods,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=pods/status,verbs=patch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=discovery.k8s.io,resources=endpointslices,verbs=list;watch
// +kubebuilder:rbac:groups=readygate.io,resources=readinessgatepolicies,verbs=get;list;watch

// Reconcile evaluates the pod under every policy that owns one of its gates.
func (r *PodGateReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	// The pod and the policies are read straight from the cache, never
	// modified: copying them would be most of the reconcile's garbage.
	pod := &corev1.Pod{}
	if err := r.Get(ctx, req.NamespacedName, pod, client.UnsafeDisableDeepCopy); err != nil {
		if apierrors.IsNotFound(err) {
			r.Tracker.ForgetPod(req.NamespacedName)
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, err
	}
	// Tenant safety (design rule 15): a finished pod is not evaluated and its
	// IP, back in the pool, is not dialled again.
	if sources.Terminal(pod) {
		r.sources.poller.ForgetPod(pod.UID)
		return ctrl.Result{}, nil
	}
	if pod.DeletionTimestamp != nil {
		return ctrl.Result{}, nil
	}
	policies := &v1alpha1.ReadinessGatePolicyList{}
	if err := r.List(ctx, policies, client.InNamespace(pod.Namespace), client.UnsafeDisableDeepCopy); err != nil {
		return ctrl.Result{}, err
	}
	var requeue time.Duration
	var errs []error
	for i := range policies.Items {
		p := &policies.Items[i]
		if policy.Owner(policies.Items, pod, p.Spec.ConditionType) != p {
			continue
		}
		after, err := r.reconcileGate(ctx, pod, p)
		errs = append(errs, err)
		if after > 0 && (requeue == 0 || after < requeue) {
			requeue = after
		}
	}
	return ctrl.Result{RequeueAfter: requeue}, errors.Join(errs...)
}

// reconcileGate decides and writes one policy's condition on the pod, and
// returns when to look again.
func (r *PodGateReconciler) reconcileGate(ctx context.Context, pod *corev1.Pod, p *v1alpha1.ReadinessGatePolicy) (time.Duration, error) {
	state := r.Tracker.Get(pod, p.UID)
	if !gate.HasGate(pod, p.Spec.ConditionType) {
		if !state.MissingGateReported {
			r.Recorder.Eventf(pod, p, corev1.EventTypeWarning, eventMissingGate, "Select",
				"policy %s selects this pod but spec.readinessGates lacks %s: add it to the pod template and restart the pod", p.Name, p.Spec.ConditionType)
			state.MissingGateReported = true
			r.Tracker.Set(pod, p.UID, state)
		}
		return 0, nil
	}
	program, err := r.Programs.Get(p)
	if err != nil {
		return 0, nil // Accepted=False on the policy says why; no pod is touched.
	}

	now := time.Now()
	dryRun := p.Spec.Mode == v1alpha1.ModeDryRun
	cur := gate.Find(pod, p.Spec.ConditionType)
	if dryRun {
		cur = state.DryRun
	}
	d := r.decide(ctx, program, pod, p, cur, state.Counters, now)
	state.Counters = d.Counters
	next := nextEvaluation(p, program, d)

	if !gate.Changed(cur, d) {
		state.FlipHeld = false
		r.Tracker.Set(pod, p.UID, state)
		return next, nil
	}
	cond := gate.Condition(p.Spec.ConditionType, cur, d, metav1.NewTime(now))
	if dryRun {
		state.DryRun = &cond
		r.Tracker.Set(pod, p.UID, state)
		if cur == nil || gate.Flipped(cur, d) {
			r.Recorder.Eventf(pod, p, corev1.EventTypeNormal, v1alpha1.ReasonDryRun, "Evaluate",
				"policy %s (DryRun) would set %s to %s: %s", p.Name, p.Spec.ConditionType, d.Status, d.Message)
			r.DryRunChanged <- event.GenericEvent{Object: p}
		}
		return next, nil
	}
	if cur != nil && cur.Status == corev1.ConditionTrue && d.Status != corev1.ConditionTrue && !r.takeFlip(p, now) {
		// Hold the pod True; the counters keep the streak, so the flip is
		// retried when the budget refills.
		heldFlipsTotal.WithLabelValues(p.Namespace, p.Name).Inc()
		if !state.FlipHeld {
			r.Recorder.Eventf(pod, p, corev1.EventTypeWarning, eventFlipDeferred, "Evaluate",
				"policy %s would set %s to False (%s) but its maxUnavailable budget is spent", p.Name, p.Spec.ConditionType, d.Reason)
		}
		state.FlipHeld = true
		r.Tracker.Set(pod, p.UID, state)
		return r.Tracker.Budget(p.UID).NextWindow(now, policy.Interval(p)) + time.Millisecond, nil
	}
	state.FlipHeld = false
	if err := writeCondition(ctx, r.Client, pod, cond); err != nil {
		errorsTotal.WithLabelValues(p.Namespace, p.Name, "write").Inc()
		return 0, fmt.Errorf("writing %s on pod %s: %w", p.Spec.ConditionType, pod.Name, err)
	}
	r.Tracker.Set(pod, p.UID, state)
	if gate.Flipped(cur, d) {
		// Only a status change is an Event: a pod's first condition is news
		// to no one, and at fleet scale those Events would double the writes.
		flipsTotal.WithLabelValues(p.Namespace, p.Name, string(d.Status)).Inc()
		r.Recorder.Eventf(pod, p, eventTypeFor(d), eventGateFlipped, "Evaluate",
			"%s is %s (%s): %s", p.Spec.ConditionType, d.Status, d.Reason, d.Message)
	}
	return next, nil
}

// decide evaluates the policy for the pod, unless it is suspended.
func (r *PodGateReconciler) decide(ctx context.Context, program *cel.Program, pod *corev1.Pod, p *v1alpha1.ReadinessGatePolicy,
	cur *corev1.PodCondition, counters gate.Counters, now time.Time) gate.Decision {
	if p.Spec.Suspend {
		return gate.Decision{Status: corev1.ConditionTrue, Reason: gate.ReasonSuspended,
			Message: fmt.Sprintf("policy %s is suspended: the gate is released", p.Name)}
	}
	obs := r.observe(ctx, program, pod, p, cur, now)
	return gate.Decide(gate.Input{
		Current:     cur,
		Counters:    counters,
		Observation: obs,
		Thresholds: gate.Thresholds{
			Success:  p.Spec.SuccessThreshold,
			Failure:  p.Spec.FailureThreshold,
			Interval: policy.Interval(p),
			Timeout:  timeoutOf(p),
		},
		ContainersReadySince: gate.ContainersReadySince(pod).Time,
		Now:                  now,
	})
}

// observe runs the policy's program and classifies the result.
func (r *PodGateReconciler) observe(ctx context.Context, program *cel.Program, pod *corev1.Pod, p *v1alpha1.ReadinessGatePolicy,
	cur *corev1.PodCondition, now time.Time) gate.Observation {
	vals, unavailable := r.sources.gather(ctx, p, pod)
	if unavailable != nil {
		if unavailable.Outcome == gate.OutcomeSourceUnavailable {
			errorsTotal.WithLabelValues(p.Namespace, p.Name, "source").Inc()
		}
		return *unavailable
	}
	start := time.Now()
	res, err := program.Evaluate(ctx, cel.Input{Pod: pod, Gate: gateOf(cur), Now: now, Sources: vals})
	evaluationSeconds.WithLabelValues(p.Namespace, p.Name).Observe(time.Since(start).Seconds())
	switch {
	case err != nil:
		evaluationsTotal.WithLabelValues(p.Namespace, p.Name, "error").Inc()
		errorsTotal.WithLabelValues(p.Namespace, p.Name, "evaluation").Inc()
		log.FromContext(ctx).V(1).Info("evaluation failed", "policy", p.Name, "error", err.Error())
		if cur != nil && cur.Status == corev1.ConditionTrue {
			// The condition will not say so while the gate holds True.
			r.Recorder.Eventf(pod, p, corev1.EventTypeWarning, eventEvalFailed, "Evaluate", "policy %s: %v", p.Name, err)
		}
		return gate.Observation{Outcome: gate.OutcomeError, Message: err.Error()}
	case res.Ready:
		evaluationsTotal.WithLabelValues(p.Namespace, p.Name, "true").Inc()
		return gate.Observation{Outcome: gate.OutcomeTrue, Message: res.Message}
	default:
		evaluationsTotal.WithLabelValues(p.Namespace, p.Name, "false").Inc()
		return gate.Observation{Outcome: gate.OutcomeFalse, Message: res.Message}
	}
}

// writeCondition patches one condition on pods/status; a pod gone meanwhile
// is no error. The response lands in a scratch object, since pod may be the
// cache's own.
func writeCondition(ctx context.Context, c client.StatusClient, pod *corev1.Pod, cond corev1.PodCondition) error {
	data, err := gate.Patch(pod.UID, cond)
	if err != nil {
		return err
	}
	scratch := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: pod.Namespace, Name: pod.Name}}
	return client.IgnoreNotFound(c.Status().Patch(ctx, scratch, client.RawPatch(types.StrategicMergePatchType, data)))
}

// takeFlip spends one True-to-False flip of the policy's maxUnavailable budget.
func (r *PodGateReconciler) takeFlip(p *v1alpha1.ReadinessGatePolicy, now time.Time) bool {
	limit := int(p.Status.MatchedPods)
	if p.Spec.MaxUnavailable != nil {
		scaled, err := intstr.GetScaledValueFromIntOrPercent(p.Spec.MaxUnavailable, int(p.Status.MatchedPods), true)
		if err == nil {
			limit = scaled
		}
	}
	return r.Tracker.Budget(p.UID).Take(now, policy.Interval(p), max(limit, 1))
}

// SetupWithManager watches pods; policies and EndpointSlices, to re-evaluate
// the pods they name; and the poller's changed results.
func (r *PodGateReconciler) SetupWithManager(ctx context.Context, mgr ctrl.Manager, poller *sources.Poller) error {
	if err := mgr.GetFieldIndexer().IndexField(ctx, &discoveryv1.EndpointSlice{}, indexSlicePods, slicePods); err != nil {
		return fmt.Errorf("indexing EndpointSlices by pod: %w", err)
	}
	r.podEvents = make(chan event.GenericEvent, 4096)
	r.sources = &sourceGatherer{
		cache:  mgr.GetClient(),
		secret: mgr.GetAPIReader(),
		poller: poller,
		http:   r.SourceClient,
		enqueuePod: func(key client.ObjectKey) {
			r.podEvents <- event.GenericEvent{Object: &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name}}}
		},
		enqueuePolicy: func(p *v1alpha1.ReadinessGatePolicy) {
			for _, req := range r.podsOfPolicy(ctx, p) {
				r.podEvents <- event.GenericEvent{Object: &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: req.Namespace, Name: req.Name}}}
			}
		},
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named("podgate").
		For(&corev1.Pod{}).
		// Only spec changes (and deletion, which bumps the generation) concern
		// the pods: status writes would re-evaluate every pod on every flip.
		Watches(&v1alpha1.ReadinessGatePolicy{}, handler.EnqueueRequestsFromMapFunc(r.podsOfPolicy),
			builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Watches(&discoveryv1.EndpointSlice{}, handler.EnqueueRequestsFromMapFunc(podsOfSlice)).
		WatchesRawSource(source.Channel(r.podEvents, &handler.EnqueueRequestForObject{})).
		WithOptions(controller.Options{MaxConcurrentReconciles: r.MaxConcurrentReconciles}).
		Complete(r)
}

// podsOfSlice maps an EndpointSlice event to the pods its endpoints name.
func podsOfSlice(_ context.Context, obj client.Object) []reconcile.Request {
	names := slicePods(obj)
	reqs := make([]reconcile.Request, len(names))
	for i, name := range names {
		reqs[i] = reconcile.Request{NamespacedName: client.ObjectKey{Namespace: obj.GetNamespace(), Name: name}}
	}
	return reqs
}

// podsOfPolicy maps a policy event to the pods it selects.
func (r *PodGateReconciler) podsOfPolicy(ctx context.Context, obj client.Object) []reconcile.Request {
	p := obj.(*v1alpha1.ReadinessGatePolicy)
	sel, err := policy.Selector(p)
	if err != nil {
		return nil
	}
	pods := &corev1.PodList{}
	if err := r.List(ctx, pods, client.InNamespace(p.Namespace), client.MatchingLabelsSelector{Selector: sel}, client.UnsafeDisableDeepCopy); err != nil {
		log.FromContext(ctx).Error(err, "listing the pods of a policy", "policy", p.Name)
		return nil
	}
	reqs := make([]reconcile.Request, len(pods.Items))
	for i := range pods.Items {
		reqs[i] = reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&pods.Items[i])}
	}
	return reqs
}

// nextEvaluation is when to look at the pod again without an event: never,
// when the gate is settled and the policy reads nothing but the pod (a pod
// event will come first); otherwise at the interval, or the timeout if sooner.
func nextEvaluation(p *v1alpha1.ReadinessGatePolicy, program *cel.Program, d gate.Decision) time.Duration {
	if d.Settled() && p.Spec.Sources == nil && !program.ReadsClock() {
		return 0
	}
	next := policy.Interval(p)
	if d.TimeoutIn > 0 && d.TimeoutIn < next {
		next = d.TimeoutIn
	}
	return next
}

func timeoutOf(p *v1alpha1.ReadinessGatePolicy) time.Duration {
	if p.Spec.FailOpenAfter == nil {
		return 0
	}
	return p.Spec.FailOpenAfter.Duration
}

func gateOf(cur *corev1.PodCondition) cel.Gate {
	if cur == nil {
		return cel.Gate{Status: string(corev1.ConditionUnknown)}
	}
	return cel.Gate{Status: string(cur.Status), Reason: cur.Reason, LastTransitionTime: cur.LastTransitionTime.Time}
}

func eventTypeFor(d gate.Decision) string {
	if d.Status == corev1.ConditionTrue && d.Reason != v1alpha1.ReasonTimedOut {
		return corev1.EventTypeNormal
	}
	return corev1.EventTypeWarning
}
