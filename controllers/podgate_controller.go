package controllers

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/readygate/readygate/api/v1alpha1"
	"github.com/readygate/readygate/internal/cel"
	"github.com/readygate/readygate/internal/gate"
	"github.com/readygate/readygate/internal/podcache"
	"github.com/readygate/readygate/internal/policy"
	"github.com/readygate/readygate/internal/sources"
)

// PodGateReconciler evaluates every policy that gates a pod and writes the
// pod's conditions.
type PodGateReconciler struct {
	client.Client
	Policies *policy.Cache
	Tracker  *gate.Tracker
	Recorder events.EventRecorder
	// MaxConcurrentReconciles is the number of pods evaluated at once.
	MaxConcurrentReconciles int
	// SourceClient fetches the pods' endpoints and Prometheus within the
	// administrator's rules (tenant safety).
	SourceClient *sources.Client
	// Recount tells the policy reconciler that a pod's held or stale state
	// moved: no pod write will, as those states live in memory.
	Recount chan<- event.GenericEvent

	sources  *sourceGatherer
	cap      *unavailability
	breaker  *writeBreaker
	counts   *recounts
	pods     *podcache.Index
	share    *evaluationShare
	writes   *ownWrites
	released *releasedTypes
	told     *toldEvents
	// podEvents re-evaluates pods whose polled sources changed.
	podEvents chan event.GenericEvent
}

// +kubebuilder:rbac:groups="",resources=pods,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=pods/status,verbs=patch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=list;create;patch
// +kubebuilder:rbac:groups=discovery.k8s.io,resources=endpointslices,verbs=list;watch
// +kubebuilder:rbac:groups=readygate.io,resources=readinessgatepolicies,verbs=get;list;watch

// Reconcile plans and applies each of the pod's gates: those a policy owns,
// and those the operator wrote that no policy gates any more.
func (r *PodGateReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	// The pod and the policies are read straight from the cache, never
	// modified: copying them would be most of the reconcile's garbage.
	pod, ok := r.pods.Get(req.NamespacedName)
	if !ok {
		r.Tracker.ForgetPod(req.NamespacedName)
		r.cap.forgetPod(req.NamespacedName)
		r.writes.forget(req.NamespacedName)
		r.breaker.forgetPod(req.NamespacedName)
		return ctrl.Result{}, nil
	}
	if r.writes.unseen(pod) {
		return ctrl.Result{}, nil
	}
	told, toldRead := r.told.take(pod.UID)
	r.cap.observe(pod)
	// A finished pod is not evaluated, and its IP, back in the pool, is not
	// dialled again (design rule 15). Nor is a pod being deleted: its
	// endpoint, shutting down, would read as one that stopped answering.
	if sources.Terminal(pod) || pod.DeletionTimestamp != nil {
		r.sources.poller.ForgetPod(pod.UID)
		return ctrl.Result{}, nil
	}
	policies := &v1alpha1.ReadinessGatePolicyList{}
	if err := r.List(ctx, policies, client.InNamespace(pod.Namespace), client.UnsafeDisableDeepCopy); err != nil {
		return ctrl.Result{}, err
	}
	var requeue time.Duration
	var errs []error
	owners := policy.Owners(policies.Items, pod, r.Policies.Selects)
	for i := range policies.Items {
		p := &policies.Items[i]
		if owners[p.Spec.ConditionType] != p {
			continue
		}
		after, err := r.reconcileGate(ctx, pod, p, told.of(p.UID), toldRead)
		errs = append(errs, err)
		requeue = gate.Sooner(requeue, after)
	}
	errs = append(errs, r.releaseUngated(ctx, pod, policies.Items, owners))
	err := errors.Join(errs...)
	// Paused writes are evaluated again once writes go through, or at the
	// pause's end at the latest, and refused ones at their backoff's end:
	// no error to log and back off.
	var paused errWritesPaused
	if errors.As(err, &paused) && pausedOnly(errs) {
		return ctrl.Result{RequeueAfter: gate.Sooner(requeue, paused.wait)}, nil
	}
	return ctrl.Result{RequeueAfter: requeue}, err
}

// pausedOnly reports whether every error is a paused write.
func pausedOnly(errs []error) bool {
	for _, err := range errs {
		var paused errWritesPaused
		if err != nil && !errors.As(err, &paused) {
			return false
		}
	}
	return true
}

// reconcileGate plans one policy's gate on the pod and applies the plan;
// told is what an earlier leader's Events told of the pod under the policy,
// once toldRead.
func (r *PodGateReconciler) reconcileGate(ctx context.Context, pod *corev1.Pod, p *v1alpha1.ReadinessGatePolicy, told gate.Told, toldRead bool) (time.Duration, error) {
	c := r.Policies.Get(p)
	now := time.Now()
	var putOff time.Duration
	cur := gate.Find(pod, c.ConditionType)
	in := gate.PodInput{
		Settings:             c.Settings,
		Gated:                gate.HasGate(pod, c.ConditionType),
		Current:              cur,
		State:                told.Resume(r.Tracker.Get(pod, c.UID), cur),
		ReadsOnlyPod:         c.ReadsOnlyPod(),
		ContainersReadySince: gate.ContainersReadySince(pod).Time,
		Now:                  now,
		ToldUnread:           !toldRead,
		AdmitFlip: func() bool {
			return r.cap.admit(ctx, c, r.counts.matchedOr(policyKey(p), p.Status.MatchedPods), pod)
		},
	}
	switch {
	case !in.Gated || c.Settings.Suspended:
	case c.Err != nil:
		// A stored policy that does not compile got so from outside its
		// author's hands (the Prometheus allowlist, the reserved types or
		// the CRD changed under it): an error, never a verdict, whatever
		// onError says. True gates hold, the others say why, and
		// failOpenAfter still fails them open: a rollout does not stall on
		// a platform change.
		in.Observation = gate.Observation{Outcome: gate.OutcomeError, Message: c.Err.Error()}
		in.Settings.OnErrorFail = false
	default:
		in.Observation, putOff = r.evaluateInShare(ctx, c, pod, c.Settings.Verdict(in.Current), now)
	}
	plan := gate.PlanPod(in)
	if err := r.apply(ctx, pod, p, plan); err != nil {
		return 0, err
	}
	r.remember(ctx, pod, p, in.State, plan.State)
	return gate.Sooner(plan.Requeue, putOff), nil
}

// evaluateInShare observes the pod within its namespace's share of
// evaluation; when the namespace has spent it, the evaluation is put off
// for as long as the returned duration, and the observation says so as a
// result not in yet: the gate stays as it is, a pod without a condition
// gets False saying why, failOpenAfter still counts, and DryRun still
// writes True.
func (r *PodGateReconciler) evaluateInShare(ctx context.Context, c *policy.Compiled, pod *corev1.Pod, cur *corev1.PodCondition, now time.Time) (gate.Observation, time.Duration) {
	if wait, busy := r.share.begin(c.Namespace, now); wait > 0 {
		goneSeries.record(c.UID, func() { evaluationsDeferredTotal.WithLabelValues(c.Namespace, c.Name).Inc() })
		why := "spent its share of CEL evaluation (--evaluation-cost-per-namespace)"
		if busy {
			why = "has as many evaluations under way as it may"
		}
		return gate.Observation{Outcome: gate.OutcomePending, Message: fmt.Sprintf(
			"evaluation put off for about %s: namespace %s %s", max(wait, time.Second).Round(time.Second), c.Namespace, why)}, wait
	}
	var obs gate.Observation
	var cost int64
	// Deferred: a panic the manager recovers from must not keep the
	// namespace's place under way for good.
	defer func() { r.share.end(c.Namespace, cost) }()
	obs, cost = r.observe(ctx, c, pod, cur, now)
	return obs, 0
}

// releaseUngated sets True the False gates the operator wrote on the pod
// that no live policy decides any more, and the gates without a condition
// of a policy deleted lately with onDelete: Release (an injector whose cache
// still listed the policy gave them to a pod created after the release):
// no pod is left unready by nothing. owners are the policies' owners of
// each condition type on the pod.
func (r *PodGateReconciler) releaseUngated(ctx context.Context, pod *corev1.Pod, policies []v1alpha1.ReadinessGatePolicy, owners map[string]*v1alpha1.ReadinessGatePolicy) error {
	var errs []error
	// The API server takes a gate listed many times: a tenant's pod listing
	// one 500 times would have every reconcile of it match each policy 500
	// times.
	seen := make(map[string]bool, len(pod.Spec.ReadinessGates))
	for _, g := range pod.Spec.ReadinessGates {
		ct := string(g.ConditionType)
		if seen[ct] {
			continue
		}
		seen[ct] = true
		cur := gate.Find(pod, ct)
		if cur != nil && (cur.Status == corev1.ConditionTrue || !gate.WrittenByOperator(cur)) || r.Policies.Reserves(ct) ||
			owners[ct] != nil {
			continue
		}
		reason := r.releaseReason(policies, pod, ct)
		// A gate without a condition that a live policy declares but does
		// not select the pod for may be another writer's to set.
		if reason == "" || cur == nil && reason != v1alpha1.ReasonPolicyDeleted {
			continue
		}
		plan := gate.PlanPod(gate.PodInput{
			Settings: gate.Settings{ConditionType: ct}, Release: reason, Current: cur, Now: time.Now(),
		})
		errs = append(errs, r.apply(ctx, pod, nil, plan))
	}
	return errors.Join(errs...)
}

// releaseReason is why a False gate that no live policy decides on the pod
// is set True: a live policy declares its type but selects the pod no more
// (its labels or the selector changed), or the policy that decided it was
// deleted with onDelete: Release and this False came late. "" leaves it:
// its policy was deleted with onDelete: Retain. The policies being deleted
// decide before those deleted lately (OnDeleteVerdict).
func (r *PodGateReconciler) releaseReason(policies []v1alpha1.ReadinessGatePolicy, pod *corev1.Pod, conditionType string) string {
	switch {
	case policy.Declared(policies, conditionType):
		return v1alpha1.ReasonNotSelected
	case policy.ReleasedOnDelete(policies, pod, conditionType, r.Policies.Matches).Then(r.released.recently(pod.Namespace, conditionType, pod.Labels)).Releases():
		return v1alpha1.ReasonPolicyDeleted
	}
	return ""
}

// apply writes what the plan says and records its Event; p is nil for a
// gate that no policy decides any more.
func (r *PodGateReconciler) apply(ctx context.Context, pod *corev1.Pod, p *v1alpha1.ReadinessGatePolicy, plan gate.Plan) error {
	if plan.Write != nil {
		if err := r.write(ctx, pod, p, *plan.Write, plan.AdmittedFlip); err != nil {
			return fmt.Errorf("writing %s on pod %s: %w", plan.Write.Type, pod.Name, err)
		}
	}
	if plan.Event == nil {
		return nil
	}
	if p == nil {
		r.Recorder.Eventf(pod, nil, plan.Event.Type, plan.Event.Reason, "Evaluate", "%s", plan.Event.Note)
		return nil
	}
	r.Recorder.Eventf(pod, p, plan.Event.Type, plan.Event.Reason, "Evaluate", "%s", plan.Event.Note)
	goneSeries.record(p.UID, func() { countFlip(p, plan) })
	return nil
}

// write writes the condition on the pod through the write pause and the
// refusal backoff, and records the outcome.
func (r *PodGateReconciler) write(ctx context.Context, pod *corev1.Pod, p *v1alpha1.ReadinessGatePolicy, cond corev1.PodCondition, admittedFlip bool) error {
	key := client.ObjectKeyFromObject(pod)
	rv, err := r.breaker.write(ctx, r.Client, pod, cond)
	if err != nil {
		var paused errWritesPaused
		notSent := errors.As(err, &paused) && paused.err == nil
		if admittedFlip && (writeRejected(err) || notSent) {
			r.cap.giveBack(p.UID, pod)
		}
		if p != nil && !notSent {
			countError(p.UID, p.Namespace, p.Name, errorWrite, "")
		}
		return err
	}
	r.writes.wrote(key, rv)
	if admittedFlip {
		r.cap.wrote(p.UID, key, rv)
	}
	return nil
}

// countFlip counts a flip written, or held back, in the policy's series.
func countFlip(p *v1alpha1.ReadinessGatePolicy, plan gate.Plan) {
	switch plan.Event.Reason {
	case gate.EventGateFlipped:
		flipsTotal.WithLabelValues(p.Namespace, p.Name, string(plan.Write.Status), plan.Write.Reason).Inc()
	case gate.EventFlipDeferred:
		heldFlipsTotal.WithLabelValues(p.Namespace, p.Name).Inc()
	}
}

// evaluateUnready evaluates again, in the background, the namespace's pods
// whose gate of the condition type is not True.
func (r *PodGateReconciler) evaluateUnready(ctx context.Context, namespace, conditionType string) {
	unready, err := r.pods.Indexed(indexUnreadyGates, namespace, conditionType)
	if err != nil || len(unready) == 0 {
		return
	}
	keys := make([]types.NamespacedName, len(unready))
	for i, pod := range unready {
		keys[i] = types.NamespacedName{Namespace: pod.GetNamespace(), Name: pod.GetName()}
	}
	go r.evaluateAgain(ctx, keys)
}

// evaluateAgain queues the pods for evaluation, until ctx ends.
func (r *PodGateReconciler) evaluateAgain(ctx context.Context, pods []types.NamespacedName) {
	for _, key := range pods {
		select {
		case r.podEvents <- event.GenericEvent{Object: &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name}}}:
		case <-ctx.Done():
			return
		}
	}
}

// remember keeps the pod's state under the policy, and asks for a recount
// when it is held or stale anew or no more: those states live in memory, and
// no pod write will announce them. A reconcile waits for room in the
// channel only until it is cancelled, so shutdown never hangs on it.
func (r *PodGateReconciler) remember(ctx context.Context, pod *corev1.Pod, p *v1alpha1.ReadinessGatePolicy, prev, next gate.State) {
	r.Tracker.Set(pod, p.UID, next)
	if prev.FlipHeld == next.FlipHeld && prev.Stale == next.Stale {
		return
	}
	r.counts.markPod(policyKey(p), client.ObjectKeyFromObject(pod))
	select {
	case r.Recount <- event.GenericEvent{Object: p}:
	case <-ctx.Done():
	}
}

// observe gathers the policy's sources, runs its program and classifies the
// result; the cost is what the program spent.
func (r *PodGateReconciler) observe(ctx context.Context, c *policy.Compiled, pod *corev1.Pod, cur *corev1.PodCondition, now time.Time) (gate.Observation, int64) {
	src := r.sources.gather(ctx, c, pod)
	if src.instead != nil {
		return *src.instead, 0
	}
	if c.Program.ReadsPodBody() {
		whole, err := r.pods.Whole(pod)
		if err != nil {
			countError(c.UID, c.Namespace, c.Name, errorEvaluation, "")
			return gate.Observation{Outcome: gate.OutcomeError, Message: err.Error()}, 0
		}
		pod = whole
	}
	start := time.Now()
	res, err := c.Program.Evaluate(ctx, cel.Input{Pod: pod, Gate: cel.GateOf(cur), Now: now, Sources: src.values})
	obs := policy.Observe(res, err, src.failed)
	obs.Fetched = src.fetched
	goneSeries.record(c.UID, func() { countEvaluation(c, obs.Outcome, time.Since(start)) })
	return obs, res.Cost
}

// countEvaluation counts an evaluation and its time in the policy's series.
func countEvaluation(c *policy.Compiled, outcome gate.Outcome, took time.Duration) {
	evaluationSeconds.WithLabelValues(c.Namespace, c.Name).Observe(took.Seconds())
	switch outcome {
	case gate.OutcomeError:
		errorsTotal.WithLabelValues(c.Namespace, c.Name, errorEvaluation, "").Inc()
	case gate.OutcomeTrue, gate.OutcomeFalse:
		evaluationsTotal.WithLabelValues(c.Namespace, c.Name, evaluationResult[outcome]).Inc()
	}
}

// evaluationResult labels an evaluation's outcome in readygate_evaluations_total;
// failed evaluations are counted in readygate_errors_total.
var evaluationResult = map[gate.Outcome]string{gate.OutcomeTrue: "true", gate.OutcomeFalse: "false"}

// writeCondition patches one condition on pods/status and returns the
// pod's new resourceVersion; a pod gone meanwhile is no error, and no
// version. The response lands in a scratch object, since pod may be the
// cache's own.
func writeCondition(ctx context.Context, c client.StatusClient, pod metav1.Object, cond corev1.PodCondition) (string, error) {
	data, err := gate.Patch(pod.GetUID(), cond)
	if err != nil {
		return "", err
	}
	scratch := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: pod.GetNamespace(), Name: pod.GetName()}}
	if err := c.Status().Patch(ctx, scratch, client.RawPatch(types.StrategicMergePatchType, data)); err != nil {
		return "", client.IgnoreNotFound(err)
	}
	return scratch.ResourceVersion, nil
}

// SetupWithManager watches pods; policies and EndpointSlices, to re-evaluate
// the pods they name; and the poller's changed results.
func (r *PodGateReconciler) SetupWithManager(ctx context.Context, mgr ctrl.Manager, poller *sources.Poller) error {
	if err := mgr.GetFieldIndexer().IndexField(ctx, &discoveryv1.EndpointSlice{}, indexSlicePods, slicePods); err != nil {
		return fmt.Errorf("indexing EndpointSlices by pod: %w", err)
	}
	if err := r.pods.AddIndex(indexUnreadyGates, unreadyGates); err != nil {
		return fmt.Errorf("indexing pods by their gates that are not True: %w", err)
	}
	r.cap = newUnavailability(r.pods)
	r.breaker = newWriteBreaker(func(pods []types.NamespacedName) { r.evaluateAgain(ctx, pods) })
	r.podEvents = make(chan event.GenericEvent, 4096)
	r.sources = &sourceGatherer{
		cache:  mgr.GetClient(),
		secret: mgr.GetAPIReader(),
		poller: poller,
		http:   r.SourceClient,
		enqueuePod: func(key client.ObjectKey) {
			r.podEvents <- event.GenericEvent{Object: &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name}}}
		},
		enqueuePolicy: func(c *policy.Compiled) {
			for _, req := range r.podsOfPolicy(ctx, c) {
				r.podEvents <- event.GenericEvent{Object: &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: req.Namespace, Name: req.Name}}}
			}
		},
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named("podgate").
		For(&corev1.Pod{}, builder.WithPredicates(r.concernedPods(ctx))).
		// Only spec changes (and deletion, which bumps the generation) concern
		// the pods: status writes would re-evaluate every pod on every flip.
		Watches(&v1alpha1.ReadinessGatePolicy{}, handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, obj client.Object) []reconcile.Request {
			return r.podsOfPolicy(ctx, r.Policies.Get(obj.(*v1alpha1.ReadinessGatePolicy)))
		}),
			builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Watches(&discoveryv1.EndpointSlice{}, handler.EnqueueRequestsFromMapFunc(r.concernedPodsOfSlice)).
		WatchesRawSource(source.Channel(r.podEvents, &handler.EnqueueRequestForObject{})).
		WithOptions(controller.Options{MaxConcurrentReconciles: r.MaxConcurrentReconciles}).
		Complete(r)
}

// podsOfPolicy maps a policy event to the pods it selects, and to the pods
// whose gate of its type is not True, which it may have stopped selecting
// and must release.
func (r *PodGateReconciler) podsOfPolicy(ctx context.Context, c *policy.Compiled) []reconcile.Request {
	if c.Selector == nil {
		return nil
	}
	selected, err := r.pods.Selected(c.Namespace, c.Selector)
	if err != nil {
		log.FromContext(ctx).Error(err, "listing the pods of a policy", "policy", c.Name)
		return nil
	}
	unready, err := r.pods.Indexed(indexUnreadyGates, c.Namespace, c.ConditionType)
	if err != nil {
		log.FromContext(ctx).Error(err, "listing the pods whose gate is not True", "policy", c.Name)
	}
	seen := make(map[string]bool, len(selected))
	reqs := make([]reconcile.Request, 0, len(selected)+len(unready))
	add := func(pod metav1.Object) {
		if !seen[pod.GetName()] {
			seen[pod.GetName()] = true
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKey{Namespace: pod.GetNamespace(), Name: pod.GetName()}})
		}
	}
	for _, pod := range append(selected, unready...) {
		add(pod)
	}
	return reqs
}
