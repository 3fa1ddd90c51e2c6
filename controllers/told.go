package controllers

import (
	"context"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/readygate/readygate/api/v1alpha1"
	"github.com/readygate/readygate/internal/gate"
	"github.com/readygate/readygate/internal/podcache"
)

const (
	// toldListTimeout bounds the reading of the Events: past it a new
	// leader goes on, and may tell again what was not read.
	toldListTimeout = 10 * time.Second
	// maxToldPolicies is how many policies' Events a pod keeps: a namespace
	// holds no more policies by default (--max-policies-per-namespace),
	// while Events may relate a pod to any number of made-up ones.
	maxToldPolicies = 100
	// toldPageSize is how many Events one page of the list holds.
	toldPageSize = 500
)

// policyKind is the kind of the object readygate's pod Events relate to.
var policyKind = v1alpha1.GroupVersion.WithKind("ReadinessGatePolicy")

// toldEvents is what readygate's Events in the cluster already tell of the
// pods: read once when this replica starts to lead, in one paginated list,
// field-selected on the server, and kept for the pods the cache holds,
// until each pod's first reconcile takes its share. A failover or a
// restart then does not tell every held pod and every pod missing its gate
// again. Nothing of an Event is kept but the pod, the policy and a time.
type toldEvents struct {
	reader client.Reader
	// synced waits for the pod cache, whose pods are the ones kept.
	synced func(context.Context) bool
	pods   *podcache.Index
	ready  chan struct{}

	mu   sync.Mutex
	told map[types.UID]toldOfPod
}

// policyTold is what was told of a pod under one policy.
type policyTold struct {
	policy types.UID
	told   gate.Told
}

func newToldEvents(reader client.Reader, synced func(context.Context) bool, pods *podcache.Index) *toldEvents {
	return &toldEvents{reader: reader, synced: synced, pods: pods, ready: make(chan struct{})}
}

// NeedLeaderElection: the Events to read are those of the leader before.
func (t *toldEvents) NeedLeaderElection() bool { return true }

// Start reads the Events and makes them known to the reconciles. A list
// that fails keeps what it read: the rest may be told again.
func (t *toldEvents) Start(ctx context.Context) error {
	defer close(t.ready)
	listCtx, cancel := context.WithTimeout(ctx, toldListTimeout)
	defer cancel()
	told := map[types.UID]toldOfPod{}
	keys := map[types.UID]types.NamespacedName{}
	if err := t.list(listCtx, told, keys); err != nil {
		log.FromContext(ctx).Error(err, "reading readygate's Events: pods they tell of may be told again")
	}
	// The reconciles wait for the cache anyway: only the list is bounded.
	if !t.synced(ctx) {
		return nil
	}
	for uid, key := range keys {
		if pod, ok := t.pods.Get(key); !ok || pod.UID != uid {
			delete(told, uid)
		}
	}
	log.FromContext(ctx).Info("read the Events earlier leaders left, not to tell them again", "pods", len(told))
	t.mu.Lock()
	t.told = told
	t.mu.Unlock()
	return nil
}

// list folds readygate's Warning Events about pods into told, page by
// page. One list, whatever the reasons: kube-apiserver keeps no watch
// cache of Events by default, so each list reads every Event of the
// cluster from etcd, and a field selector cannot name two reasons.
func (t *toldEvents) list(ctx context.Context, told map[types.UID]toldOfPod, keys map[types.UID]types.NamespacedName) error {
	fields := client.MatchingFields{"reportingController": eventSource, "regarding.kind": podKind.Kind, "type": corev1.EventTypeWarning}
	next := ""
	for {
		// A page of its own: decoding into the last would keep fields an
		// Event lacks from the Event before it.
		page := &eventsv1.EventList{}
		if err := t.reader.List(ctx, page, fields, client.Limit(toldPageSize), client.Continue(next)); err != nil {
			return err
		}
		for i := range page.Items {
			foldTold(told, keys, &page.Items[i])
		}
		if next = page.Continue; next == "" {
			return nil
		}
	}
}

// foldTold adds what one Event tells to told, by pod and policy; keys
// names each pod. Only the Events told once (gate.ToldOnce) tell
// something here. An Event that names no policy tells nothing: readygate
// relates each of these Events to its policy. Nor does one outside its
// pod's namespace, or relating another namespace's policy, as readygate's
// never do: the API server takes an Event about any object in any
// namespace, and whoever may create Events in one namespace must not
// silence another's pods.
func foldTold(told map[types.UID]toldOfPod, keys map[types.UID]types.NamespacedName, e *eventsv1.Event) {
	if !gate.ToldOnce(e.Reason) || e.Related == nil || e.Related.Kind != policyKind.Kind || e.Related.APIVersion != policyKind.GroupVersion().String() || e.Regarding.UID == "" ||
		e.Regarding.Namespace != e.Namespace || e.Related.Namespace != e.Namespace {
		return
	}
	at := e.EventTime.Time
	if e.Series != nil && e.Series.LastObservedTime.After(at) {
		at = e.Series.LastObservedTime.Time
	}
	pod := e.Regarding.UID
	keys[pod] = types.NamespacedName{Namespace: e.Regarding.Namespace, Name: e.Regarding.Name}
	for i := range told[pod] {
		if told[pod][i].policy == e.Related.UID {
			told[pod][i].told = told[pod][i].told.Add(e.Reason, at)
			return
		}
	}
	if len(told[pod]) < maxToldPolicies {
		told[pod] = append(told[pod], policyTold{policy: e.Related.UID, told: gate.Told{}.Add(e.Reason, at)})
	}
}

// take returns what was told of the pod and forgets it: only a new
// leader's first reconcile of a pod after the Events are read needs it.
// read is false until they are: no reconcile waits for them, but a pod
// whose plan would tell what they may tell is planned again
// (gate.PodInput.ToldUnread). The map goes once empty, as a map keeps its
// buckets.
func (t *toldEvents) take(pod types.UID) (told toldOfPod, read bool) {
	select {
	case <-t.ready:
	default:
		return nil, false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	told, ok := t.told[pod]
	if !ok {
		return nil, true
	}
	delete(t.told, pod)
	if len(t.told) == 0 {
		t.told = nil
	}
	return told, true
}

// forget drops a gone pod's share.
func (t *toldEvents) forget(pod types.UID) { t.take(pod) }

// toldOfPod is what was told of one pod, by policy.
type toldOfPod []policyTold

// of returns what was told of the pod under the policy.
func (t toldOfPod) of(policy types.UID) gate.Told {
	for _, pt := range t {
		if pt.policy == policy {
			return pt.told
		}
	}
	return gate.Told{}
}
