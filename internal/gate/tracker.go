package gate

import (
	"slices"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// State is what the operator remembers of one pod under one policy between
// evaluations. It is memory only: after a restart the pod's own condition is
// the starting point.
type State struct {
	Counters Counters
	// MissingGateReported is set once the pod got its missing-gate Event.
	MissingGateReported bool
	// FlipHeld is set while the flip budget holds the pod True, so that the
	// hold is one Event, not one per evaluation.
	FlipHeld bool
	// HoldTold is set when an earlier leader's Event told a hold of the
	// gate's current True spell (Told): the hold, if the next result holds
	// the flip still, is not told again.
	HoldTold bool
	// Stale is set while a True gate is held on its last good result
	// (onError: Hold); StaleMessage is the error that holds it.
	Stale        bool
	StaleMessage string
	// Written is when the operator last wrote the gate: a change of the
	// message alone waits an interval from it, so that a message that
	// changes at every evaluation (the clock, the pod's resourceVersion) is
	// not rewritten on each write's own watch event.
	Written time.Time
}

// Tracker holds State per pod and policy.
type Tracker struct {
	mu   sync.Mutex
	pods map[types.NamespacedName]*podStates
}

// podStates are one pod's states, one per policy that gates it: a slice,
// since a pod has one or two, where a map would cost every pod over half a
// KiB (a map's smallest table holds eight entries).
type podStates struct {
	uid      types.UID
	policies []policyState
}

type policyState struct {
	policy types.UID
	state  State
}

// find returns the policy's entry, or nil.
func (ps *podStates) find(policy types.UID) *policyState {
	for i := range ps.policies {
		if ps.policies[i].policy == policy {
			return &ps.policies[i]
		}
	}
	return nil
}

// NewTracker returns an empty tracker.
func NewTracker() *Tracker {
	return &Tracker{pods: map[types.NamespacedName]*podStates{}}
}

// Get returns the state of the pod under the policy; a pod that was replaced
// under the same name starts afresh.
func (t *Tracker) Get(pod metav1.Object, policy types.UID) State {
	t.mu.Lock()
	defer t.mu.Unlock()
	ps := t.pods[podKey(pod)]
	if ps == nil || ps.uid != pod.GetUID() {
		return State{}
	}
	if e := ps.find(policy); e != nil {
		return e.state
	}
	return State{}
}

// Set records the state of the pod under the policy.
func (t *Tracker) Set(pod metav1.Object, policy types.UID, s State) {
	t.mu.Lock()
	defer t.mu.Unlock()
	key := podKey(pod)
	ps := t.pods[key]
	if ps == nil || ps.uid != pod.GetUID() {
		ps = &podStates{uid: pod.GetUID()}
		t.pods[key] = ps
	}
	if e := ps.find(policy); e != nil {
		e.state = s
		return
	}
	ps.policies = append(ps.policies, policyState{policy: policy, state: s})
}

// ForgetPod drops a deleted pod.
func (t *Tracker) ForgetPod(key types.NamespacedName) {
	t.mu.Lock()
	delete(t.pods, key)
	t.mu.Unlock()
}

// ForgetPolicy drops a deleted policy's state from every pod.
func (t *Tracker) ForgetPolicy(policy types.UID) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, ps := range t.pods {
		ps.policies = slices.DeleteFunc(ps.policies, func(e policyState) bool { return e.policy == policy })
	}
}

func podKey(pod metav1.Object) types.NamespacedName {
	return types.NamespacedName{Namespace: pod.GetNamespace(), Name: pod.GetName()}
}
