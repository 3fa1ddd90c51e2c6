package controllers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/readygate/readygate/api/v1alpha1"
	"github.com/readygate/readygate/internal/gate"
	"github.com/readygate/readygate/internal/podcache"
	"github.com/readygate/readygate/internal/policy"
)

// Event reasons on policies.
const (
	eventInvalid      = "InvalidPolicy"
	eventReleased     = "GatesReleased"
	eventStaleData    = "GatesHeldOnStaleData"
	eventStaleCleared = "StaleDataCleared"
)

// PolicyReconciler compiles policies, resolves conflicts, releases gates on
// deletion and keeps each policy's status current.
type PolicyReconciler struct {
	client.Client
	Policies *policy.Cache
	Tracker  *gate.Tracker
	Recorder events.EventRecorder
	// Forget drops what the pod reconciler keeps of a deleted policy.
	Forget func(types.UID)
	// EvaluateUnready evaluates again the namespace's pods whose gate of
	// the condition type is not True, once a policy of the type is gone.
	EvaluateUnready func(namespace, conditionType string)
	// Recount carries the policies whose pods' held or stale states moved.
	Recount <-chan event.GenericEvent

	pods     *podcache.Index
	counts   *recounts
	released *releasedTypes
	// writes are the operator's condition writes the cache does not show
	// yet: a release goes on only once the cache shows its last batch.
	writes *ownWrites
	// releaseBatch is how many pods one reconcile releases (releaseBatch).
	releaseBatch int
	// breaker pauses the releases with the pod reconciler's writes while
	// the API server fails them.
	breaker *writeBreaker
	// leadingSince is when this replica started reconciling policies: as
	// the leader, since only the leader runs the controllers.
	leadingSince func() time.Time
}

// Every write is a patch (the finalizer, the status), so the role grants
// patch and no update; the policy has no owner references, so it needs no
// update of readinessgatepolicies/finalizers either.
// +kubebuilder:rbac:groups=readygate.io,resources=readinessgatepolicies,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups=readygate.io,resources=readinessgatepolicies/status,verbs=get;patch

// Reconcile brings one policy's finalizer and status up to date.
func (r *PolicyReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	p := &v1alpha1.ReadinessGatePolicy{}
	if err := r.Get(ctx, req.NamespacedName, p); err != nil {
		if apierrors.IsNotFound(err) {
			// The deletion's forgetting may have run while a reconcile of the
			// policy was under way, which then recorded its counts and series
			// again: this one, queued by the deletion, comes after it.
			r.forgetCounts(req.NamespacedName)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if p.DeletionTimestamp != nil {
		return r.finalize(ctx, p)
	}
	before := p.DeepCopy()
	if controllerutil.AddFinalizer(p, v1alpha1.Finalizer) {
		return ctrl.Result{}, patchFinalizers(ctx, r.Client, p, before)
	}

	c := r.Policies.Get(p)
	peers, err := r.peers(ctx, c.Namespace)
	if err != nil {
		return ctrl.Result{}, err
	}
	peersBasis := peersBasisOf(peers)
	owner := func(pod metav1.Object, conditionType string) *v1alpha1.ReadinessGatePolicy {
		return r.counts.owner(peersBasis, peers, r.Policies.Selects, pod, conditionType)
	}
	summary, err := r.counts.summarize(p, c, peersBasis, r.pods, func(pod metav1.Object) policy.Tally {
		return policy.TallyPod(c, pod, owner, func(pod metav1.Object) gate.State { return r.Tracker.Get(pod, p.UID) })
	})
	if err != nil {
		return ctrl.Result{}, err
	}
	summary = policy.CarryOver(p, summary, time.Since(r.leadingSince()), c.Settings.Thresholds)
	err = r.writeStatus(ctx, p, c.Err, summary)
	recordPolicy(p, summary)
	// Held and stale pods are not written to the pods: the status follows
	// them at the interval, as they are evaluated again.
	return ctrl.Result{RequeueAfter: recountAfter(c, summary)}, err
}

// recountAfter is when to recount without a pod event: held and stale pods
// change in memory only.
func recountAfter(c *policy.Compiled, s policy.Summary) time.Duration {
	if s.Held > 0 || s.Stale > 0 {
		return c.Settings.Interval
	}
	return 0
}

func (r *PolicyReconciler) writeStatus(ctx context.Context, p *v1alpha1.ReadinessGatePolicy, compileErr error, s policy.Summary) error {
	before := p.Status.DeepCopy()
	p.Status.ObservedGeneration = p.Generation
	p.Status.MatchedPods, p.Status.ReadyPods, p.Status.MissingGatePods = s.Matched, s.Ready, s.Missing
	p.Status.HeldPods, p.Status.StaleDataPods = s.Held, s.Stale
	for _, c := range policy.Conditions(p, compileErr, s) {
		meta.SetStatusCondition(&p.Status.Conditions, c)
	}
	if equality.Semantic.DeepEqual(*before, p.Status) {
		return nil
	}
	if compileErr != nil && !meta.IsStatusConditionFalse(before.Conditions, v1alpha1.ConditionAccepted) {
		r.Recorder.Eventf(p, nil, corev1.EventTypeWarning, eventInvalid, "Compile", "%s", gate.Cut(compileErr.Error()))
	}
	// One Event per episode of stale data, not one per pod per interval.
	switch {
	case before.StaleDataPods == 0 && s.Stale > 0:
		r.Recorder.Eventf(p, nil, corev1.EventTypeWarning, eventStaleData, "Evaluate",
			"%s", gate.Cut(fmt.Sprintf("%d pods keep their gate on the last good result because evaluation or a source fails (onError: Hold, or the policy does not compile); %s", s.Stale, s.StaleExample)))
	case before.StaleDataPods > 0 && s.Stale == 0:
		r.Recorder.Eventf(p, nil, corev1.EventTypeNormal, eventStaleCleared, "Evaluate", "every pod is evaluated on fresh data again")
	}
	// The whole status as a merge patch: no conflict with a stale cache, and
	// zero counts are written too (a diff would leave them out and
	// `kubectl get rgp` would show them blank).
	data, err := json.Marshal(map[string]any{"status": p.Status})
	if err != nil {
		return err
	}
	return r.Status().Patch(ctx, p, client.RawPatch(types.MergePatchType, data))
}

// finalize releases the policy's gates when onDelete is Release, a batch
// at a time, then lets the policy go.
func (r *PolicyReconciler) finalize(ctx context.Context, p *v1alpha1.ReadinessGatePolicy) (ctrl.Result, error) {
	if !controllerutil.ContainsFinalizer(p, v1alpha1.Finalizer) {
		return ctrl.Result{}, nil
	}
	// A DryRun policy releases too: a pod left False before the switch to
	// DryRun would otherwise stay unready, with no policy to decide it.
	c := r.Policies.Get(p)
	if c.Release {
		released, more, err := r.release(ctx, p, c)
		switch {
		case err != nil && released == 0:
			return ctrl.Result{}, err
		case err != nil:
			// Other pods were released: the next turn comes soon, not
			// after the failed writes' growing backoff, which would slow
			// every other pod's release turn after turn.
			log.FromContext(ctx).Error(err, "releasing some of the deleted policy's pods; the next turn retries them", "released", released)
			return ctrl.Result{RequeueAfter: releaseTurn}, nil
		case more:
			return ctrl.Result{RequeueAfter: releaseTurn}, nil
		}
	}
	before := p.DeepCopy()
	controllerutil.RemoveFinalizer(p, v1alpha1.Finalizer)
	return ctrl.Result{}, client.IgnoreNotFound(patchFinalizers(ctx, r.Client, p, before))
}

// patchFinalizers writes p's finalizers as changed from before, which the
// cache read. A merge patch replaces the whole list: from a cache behind
// another actor's change it would drop the finalizer that actor added, or
// bring back one it removed and block the deletion for good. So the patch
// carries before's resourceVersion: from a stale read it fails with a
// conflict, and the reconcile is retried once the cache has caught up.
func patchFinalizers(ctx context.Context, c client.Writer, p, before *v1alpha1.ReadinessGatePolicy) error {
	return c.Patch(ctx, p, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{}))
}

// forgetPolicy drops what the operator keeps of a policy gone from the
// cluster, by its finalizer or with the finalizer stripped: compiled
// programs, pod states, counts and metric series would otherwise pile up
// with each policy a tenant creates and deletes. What it released is
// remembered, for the late writes of evaluations under way.
func (r *PolicyReconciler) forgetPolicy(p client.Object) {
	r.released.note(p)
	r.Policies.Forget(p.GetUID())
	r.Tracker.ForgetPolicy(p.GetUID())
	r.Forget(p.GetUID())
	goneSeries.forget(p.GetUID())
	r.forgetCounts(client.ObjectKeyFromObject(p))
	// A pod the policy no longer selected, evaluated after the policy left
	// the cache but before the deletion was noted, found nothing to release
	// its False gate: evaluated now, it finds the note.
	if rgp, ok := p.(*v1alpha1.ReadinessGatePolicy); ok {
		r.EvaluateUnready(rgp.Namespace, rgp.Spec.ConditionType)
	}
}

// forgetCounts drops a policy's counts and metric series, kept by name.
func (r *PolicyReconciler) forgetCounts(key types.NamespacedName) {
	r.counts.forget(key)
	forgetPolicyMetrics(key)
}

// releaseWriters is how many of a deleted policy's pods are released at
// once. Deleting a policy is also the way out of a bad one: one write at a
// time put its pods back into traffic one by one, 800 pods in 14 s on a
// quiet control plane, hours on a slow one.
const releaseWriters = 32

// releaseBatch is how many of a deleted policy's pods one reconcile
// releases. A policy with more goes to the back of the queue between
// batches, releaseTurn later: the policy workers are few, and one tenant
// deleting as many large policies as there are workers would otherwise
// keep every other policy's status and deletion waiting out its writes.
const (
	releaseBatch = 256
	releaseTurn  = 100 * time.Millisecond
)

// release sets the condition True on the next batch of the pods the policy
// gates that no other live policy takes over, and says how many it
// released and whether more are left: pods beyond the batch, or released
// ones the cache does not show yet, which the next batch must not count as
// still to release.
func (r *PolicyReconciler) release(ctx context.Context, p *v1alpha1.ReadinessGatePolicy, c *policy.Compiled) (released int, more bool, err error) {
	pods, peers, err := r.selected(ctx, c)
	if err != nil {
		return 0, false, err
	}
	writes, unseen := r.releaseWrites(pods, peers, c)
	more = unseen || len(writes) > r.releaseBatch
	writes = writes[:min(len(writes), r.releaseBatch)]
	var (
		mu      sync.Mutex
		errs    []error
		writers errgroup.Group
	)
	writers.SetLimit(releaseWriters)
	for _, w := range writes {
		writers.Go(func() error {
			// While the API server fails the namespace's writes, or refuses
			// the pod's, the pod waits (writeBreaker): its own evaluation
			// releases it once they go through, or a later turn does.
			rv, err := r.breaker.write(ctx, r.Client, w.pod, w.condition)
			mu.Lock()
			defer mu.Unlock()
			var paused errWritesPaused
			switch {
			case errors.As(err, &paused):
				more = true
			case err != nil:
				errs = append(errs, fmt.Errorf("releasing pod %s: %w", w.pod.GetName(), err))
			default:
				r.writes.wrote(types.NamespacedName{Namespace: w.pod.GetNamespace(), Name: w.pod.GetName()}, rv)
				released++
			}
			return nil
		})
	}
	_ = writers.Wait() // the writers return no error: errs holds them all
	if released > 0 {
		r.Recorder.Eventf(p, nil, corev1.EventTypeNormal, eventReleased, "Delete", "set %s True on %d pods before deletion", c.ConditionType, released)
	}
	return released, more, errors.Join(errs...)
}

// podWrite is a condition to write to a pod.
type podWrite struct {
	pod       metav1.Object
	condition corev1.PodCondition
}

// releaseWrites are the writes that release a deleted policy's pods: those
// that declare its gate, that no other live policy takes over, and whose
// condition is not True already; unseen says whether it left out pods the
// operator wrote that the cache does not show yet.
func (r *PolicyReconciler) releaseWrites(pods []metav1.Object, peers []v1alpha1.ReadinessGatePolicy, c *policy.Compiled) (writes []podWrite, unseen bool) {
	for _, pod := range pods {
		gates, conditions := podcache.Readiness(pod)
		if !gate.Declares(gates, c.ConditionType) || policy.Owner(peers, pod, c.ConditionType, r.Policies.Selects) != nil {
			continue
		}
		if r.writes.unseen(pod) {
			unseen = true
			continue
		}
		plan := gate.PlanPod(gate.PodInput{Settings: c.Settings, Release: v1alpha1.ReasonPolicyDeleted,
			Current: gate.FindIn(conditions, c.ConditionType), Now: time.Now()})
		if plan.Write != nil {
			writes = append(writes, podWrite{pod: pod, condition: *plan.Write})
		}
	}
	return writes, unseen
}

// selected returns the pods the policy selects and the policies of its
// namespace, the cache's own: the caller must not modify them.
func (r *PolicyReconciler) selected(ctx context.Context, c *policy.Compiled) ([]metav1.Object, []v1alpha1.ReadinessGatePolicy, error) {
	peers, err := r.peers(ctx, c.Namespace)
	if err != nil || c.Selector == nil {
		return nil, peers, err // Accepted=False says why a selector is missing; the policy selects nothing
	}
	pods, err := r.pods.Selected(c.Namespace, c.Selector)
	return pods, peers, err
}

// peers lists the namespace's policies from the cache, without copies.
func (r *PolicyReconciler) peers(ctx context.Context, namespace string) ([]v1alpha1.ReadinessGatePolicy, error) {
	peers := &v1alpha1.ReadinessGatePolicyList{}
	if err := r.List(ctx, peers, client.InNamespace(namespace), client.UnsafeDisableDeepCopy); err != nil {
		return nil, err
	}
	return peers.Items, nil
}

// SetupWithManager watches policies and the pods of their namespaces
// (counts and conflicts follow pod changes).
func (r *PolicyReconciler) SetupWithManager(ctx context.Context, mgr ctrl.Manager) error {
	if err := forgetGone(ctx, mgr.GetCache(), &v1alpha1.ReadinessGatePolicy{}, r.forgetPolicy); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named("policy").
		// A policy's deletion waits on its pods' release: more than one
		// worker, so that it holds up no other policy's status or deletion.
		WithOptions(controller.Options{MaxConcurrentReconciles: policyWorkers, RateLimiter: policyRetries()}).
		For(&v1alpha1.ReadinessGatePolicy{}).
		Watches(&corev1.Pod{}, r.coalescedPolicies()).
		// A policy's spec change can change which peers conflict with it.
		Watches(&v1alpha1.ReadinessGatePolicy{}, handler.EnqueueRequestsFromMapFunc(r.policiesOfNamespace)).
		WatchesRawSource(source.Channel(r.Recount, r.coalescedPolicy())).
		Complete(r)
}

// policyWorkers is how many policies are reconciled at once.
const policyWorkers = 4

// statusCoalescing is how long pod events gather before a policy recounts
// its pods: a rollout's thousands of pod events cost a few recounts and
// status writes, and the status still follows within a second.
const statusCoalescing = 500 * time.Millisecond

// coalescedPolicies marks a pod dirty under the policies of its namespace
// and enqueues them after statusCoalescing; the queue keeps one pending
// entry per policy.
func (r *PolicyReconciler) coalescedPolicies() handler.EventHandler {
	enqueue := func(ctx context.Context, obj client.Object, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
		pod := client.ObjectKeyFromObject(obj)
		for _, req := range r.policiesOfNamespace(ctx, obj) {
			r.counts.markPod(req.NamespacedName, pod)
			q.AddAfter(req, statusCoalescing)
		}
	}
	return handler.Funcs{
		CreateFunc: func(ctx context.Context, e event.CreateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			enqueue(ctx, e.Object, q)
		},
		UpdateFunc: func(ctx context.Context, e event.UpdateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			enqueue(ctx, e.ObjectNew, q)
		},
		DeleteFunc: func(ctx context.Context, e event.DeleteEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			enqueue(ctx, e.Object, q)
		},
	}
}

// coalescedPolicy enqueues the policy of a recount after statusCoalescing.
func (r *PolicyReconciler) coalescedPolicy() handler.EventHandler {
	return handler.Funcs{
		GenericFunc: func(_ context.Context, e event.GenericEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			q.AddAfter(reconcile.Request{NamespacedName: client.ObjectKeyFromObject(e.Object)}, statusCoalescing)
		},
	}
}

func (r *PolicyReconciler) policiesOfNamespace(ctx context.Context, obj client.Object) []reconcile.Request {
	peers := &v1alpha1.ReadinessGatePolicyList{}
	if err := r.List(ctx, peers, client.InNamespace(obj.GetNamespace()), client.UnsafeDisableDeepCopy); err != nil {
		return nil
	}
	reqs := make([]reconcile.Request, len(peers.Items))
	for i := range peers.Items {
		reqs[i] = reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&peers.Items[i])}
	}
	return reqs
}
