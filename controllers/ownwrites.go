package controllers

import (
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/resourceversion"
)

// ownWrites remembers, per pod, the resourceVersion of the operator's last
// condition write until the cache shows it. A reconcile that ran before then
// would decide on the pod as it was before the write, and write the same
// condition again, with a second Event and a second flip counted: a pod
// event already queued when the write landed is enough, and under load the
// watch is often that far behind.
type ownWrites struct {
	mu sync.Mutex
	rv map[types.NamespacedName]string
}

func newOwnWrites() *ownWrites {
	return &ownWrites{rv: map[types.NamespacedName]string{}}
}

// wrote records the resourceVersion the API server gave the pod for a write.
func (w *ownWrites) wrote(key types.NamespacedName, rv string) {
	if rv == "" {
		return // the pod was gone: nothing to wait for
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	// The pod reconciler and a release may write the same pod at once: the
	// later write is the one the cache must show.
	if prev, ok := w.rv[key]; ok {
		if cmp, err := resourceversion.CompareResourceVersion(prev, rv); err == nil && cmp > 0 {
			return
		}
	}
	w.rv[key] = rv
}

// unseen says whether the cached pod is older than the operator's last write
// to it. Its watch event brings the pod back once the cache has it, so the
// caller can leave the pod until then. A resourceVersion that cannot be
// compared (resourceversion.CompareResourceVersion) counts as seen: at
// worst a condition is written twice, as before.
func (w *ownWrites) unseen(pod metav1.Object) bool {
	key := types.NamespacedName{Namespace: pod.GetNamespace(), Name: pod.GetName()}
	w.mu.Lock()
	defer w.mu.Unlock()
	written, ok := w.rv[key]
	if !ok {
		return false
	}
	if !shows(pod.GetResourceVersion(), written) {
		return true
	}
	delete(w.rv, key)
	return false
}

// shows reports whether a cached resourceVersion is the written one or
// later. One that cannot be compared counts as later: waiting on it could
// last for good.
func shows(cached, written string) bool {
	cmp, err := resourceversion.CompareResourceVersion(cached, written)
	return err != nil || cmp >= 0
}

// forget drops a deleted pod.
func (w *ownWrites) forget(key types.NamespacedName) {
	w.mu.Lock()
	delete(w.rv, key)
	w.mu.Unlock()
}
