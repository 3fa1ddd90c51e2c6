package controllers

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/readygate/readygate/internal/gate"
	"github.com/readygate/readygate/internal/podcache"
	"github.com/readygate/readygate/internal/policy"
	"github.com/readygate/readygate/internal/sources"
)

// indexUnreadyGates indexes pods by the readiness gates they declare whose
// condition is written and not True.
const indexUnreadyGates = "readygate.io/unready-gates"

// unreadyGates returns the condition types of the pod's gates that are not
// True, none for a finished pod: it serves no traffic, so it takes no room
// under maxUnavailable and needs no release.
func unreadyGates(pod metav1.Object) []string {
	if sources.TerminalPhase(podcache.Phase(pod)) {
		return nil
	}
	gates, conditions := podcache.Readiness(pod)
	var out []string
	for _, g := range gates {
		if c := gate.FindIn(conditions, string(g.ConditionType)); c != nil && c.Status != corev1.ConditionTrue {
			out = append(out, string(g.ConditionType))
		}
	}
	return out
}

// unavailability enforces maxUnavailable as a cap, the way a
// PodDisruptionBudget does: a True gate goes False only while fewer than the
// cap of the policy's matched pods are not True. The count comes from the
// cluster (the cache's index), so it holds across restarts and replicas,
// plus the flips this process admitted that the cache does not show yet, so
// concurrent reconciles cannot overshoot it.
type unavailability struct {
	pods *podcache.Index

	mu sync.Mutex
	// admitted holds, per policy, the pods whose flip was admitted and whose
	// not-True gate the cache has not shown yet.
	admitted map[types.UID]map[types.NamespacedName]admission
}

// admission is one admitted flip.
type admission struct {
	at time.Time
	// written is the pod's resourceVersion after the flip's write, once it
	// succeeded: the flip counts until the cache shows that version,
	// however late the cache is (a watch down under an API server fault).
	written string
}

// admittedFor bounds how long a flip whose write got no answer counts
// without the cache showing it: a write that never landed must not hold
// room forever.
const admittedFor = time.Minute

func newUnavailability(pods *podcache.Index) *unavailability {
	return &unavailability{pods: pods, admitted: map[types.UID]map[types.NamespacedName]admission{}}
}

// admit reports whether one more of the policy's pods may go False, and if
// so counts it until the cache shows it.
func (u *unavailability) admit(ctx context.Context, c *policy.Compiled, matched int, pod *corev1.Pod) bool {
	// Listed under the lock: observe must not drop an admitted flip between
	// a list that does not show it yet and the count.
	u.mu.Lock()
	defer u.mu.Unlock()
	unready, err := u.pods.Indexed(indexUnreadyGates, c.Namespace, c.ConditionType)
	if err != nil {
		log.FromContext(ctx).Error(err, "counting the pods whose gate is not True; holding the flip", "policy", c.Name)
		return false
	}
	down := map[types.NamespacedName]bool{}
	for _, p := range unready {
		if c.Selects(p.GetNamespace(), p.GetLabels()) && p.GetDeletionTimestamp() == nil {
			down[types.NamespacedName{Namespace: p.GetNamespace(), Name: p.GetName()}] = true
		}
	}
	return u.take(c.UID, client.ObjectKeyFromObject(pod), down, c.Cap(matched), time.Now())
}

// take admits the pod's flip if the pods down in the cache and the flips
// admitted but not shown yet leave room under the cap. The pod's own
// earlier admission, whose write got no answer, is not counted against it:
// its retry is the same flip, and is counted afresh like any other. The
// caller holds u.mu.
func (u *unavailability) take(policyUID types.UID, pod types.NamespacedName, down map[types.NamespacedName]bool, cap int, now time.Time) bool {
	for key, a := range u.admitted[policyUID] {
		if a.written == "" && now.Sub(a.at) > admittedFor {
			delete(u.admitted[policyUID], key)
			continue
		}
		if key != pod {
			down[key] = true
		}
	}
	if len(down) >= cap {
		return false
	}
	if u.admitted[policyUID] == nil {
		u.admitted[policyUID] = map[types.NamespacedName]admission{}
	}
	u.admitted[policyUID][pod] = admission{at: now}
	return true
}

// wrote records the resourceVersion an admitted flip's write gave the pod.
func (u *unavailability) wrote(policyUID types.UID, pod types.NamespacedName, rv string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if a, ok := u.admitted[policyUID][pod]; ok {
		a.written = rv
		u.admitted[policyUID][pod] = a
	}
}

// observe drops the admitted flips that the cache now shows: the pod's gate
// is in the index from now on, or the cache holds the version the write
// made or a later one (the gate may be True again already), or the pod no
// longer counts under any cap, finished or being deleted.
func (u *unavailability) observe(pod *corev1.Pod) {
	key := client.ObjectKeyFromObject(pod)
	shown := len(unreadyGates(pod)) > 0 || sources.Terminal(pod) || pod.DeletionTimestamp != nil
	u.mu.Lock()
	defer u.mu.Unlock()
	for uid, pods := range u.admitted {
		if a, ok := pods[key]; ok && (shown || a.shownBy(pod.ResourceVersion)) {
			delete(pods, key)
			if len(pods) == 0 {
				delete(u.admitted, uid)
			}
		}
	}
}

// shownBy reports whether a cached version is the written one or later.
func (a admission) shownBy(cached string) bool {
	return a.written != "" && shows(cached, a.written)
}

// writeRejected reports whether a failed write certainly changed nothing:
// the API server refused it. After a timeout, a server error or a dropped
// connection the write may have landed, and only the cache will tell; its
// flip keeps counting until then, or for admittedFor.
func writeRejected(err error) bool {
	var status apierrors.APIStatus
	if !errors.As(err, &status) {
		return false
	}
	code := status.Status().Code
	return code >= http.StatusBadRequest && code < http.StatusInternalServerError && code != http.StatusRequestTimeout
}

// giveBack returns an admitted flip whose write was rejected.
func (u *unavailability) giveBack(policyUID types.UID, pod *corev1.Pod) {
	u.mu.Lock()
	defer u.mu.Unlock()
	delete(u.admitted[policyUID], client.ObjectKeyFromObject(pod))
}

// forgetPod drops a deleted pod.
func (u *unavailability) forgetPod(key types.NamespacedName) {
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, pods := range u.admitted {
		delete(pods, key)
	}
}

// forgetPolicy drops a deleted policy.
func (u *unavailability) forgetPolicy(uid types.UID) {
	u.mu.Lock()
	defer u.mu.Unlock()
	delete(u.admitted, uid)
}
