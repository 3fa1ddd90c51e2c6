// Package podcache reads the manager's pod informer straight from its
// store, where controllers.CacheOptions keeps a pod that declares readiness
// gates as a *Gated and one that declares none as an *Ungated (most of a
// cluster's pods, each at a quarter of an empty Pod struct's size).
package podcache

import (
	"context"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
)

// Index reads pods straight from the informer's store. A cached List, even
// without deep copies, copies every pod struct into the list's items: at
// 50,000 pods that is tens of MiB of garbage per recount, and it cannot hold
// the two types the store does. The objects it returns are the cache's own
// and must not be modified.
type Index struct {
	store toolscache.Indexer
}

// NewIndex reads the cache's pod informer, which it asks for without
// waiting: the store fills as the manager's cache syncs.
func NewIndex(ctx context.Context, c cache.Cache) (*Index, error) {
	inf, err := c.GetInformer(ctx, &corev1.Pod{}, cache.BlockUntilSynced(false))
	if err != nil {
		return nil, fmt.Errorf("getting the pod informer: %w", err)
	}
	withIndexer, ok := inf.(interface{ GetIndexer() toolscache.Indexer })
	if !ok {
		return nil, fmt.Errorf("the pod informer (%T) exposes no indexer", inf)
	}
	return &Index{store: withIndexer.GetIndexer()}, nil
}

// Get returns the cached pod, if any, as a Pod made for the caller: of a
// gated pod what Gated.Pod holds, of an ungated one its metadata and phase.
func (x *Index) Get(key types.NamespacedName) (*corev1.Pod, bool) {
	obj, ok := x.Entry(key)
	if !ok {
		return nil, false
	}
	entry, ok := obj.(interface{ Pod() *corev1.Pod })
	if !ok {
		return nil, false
	}
	return entry.Pod(), true
}

// Entry returns the cache's entry of the pod, if any, as it keeps it (a
// Gated or an Ungated), shared and not to be modified: reading its metadata
// and gates costs no copy.
func (x *Index) Entry(key types.NamespacedName) (metav1.Object, bool) {
	obj, ok, err := x.store.GetByKey(key.String())
	if err != nil || !ok {
		return nil, false
	}
	entry, ok := obj.(metav1.Object)
	return entry, ok
}

// Whole returns the cached pod with its whole spec and status, which may be
// a version newer than pod: the newer version's event evaluates it again.
func (x *Index) Whole(pod *corev1.Pod) (*corev1.Pod, error) {
	obj, ok, err := x.store.GetByKey(types.NamespacedName{Namespace: pod.Namespace, Name: pod.Name}.String())
	if err != nil {
		return nil, err
	}
	if g, gated := obj.(*Gated); ok && gated && g.UID == pod.UID {
		return g.Whole()
	}
	return nil, fmt.Errorf("the cache holds no spec and status of pod %s/%s (uid %s)", pod.Namespace, pod.Name, pod.UID)
}

// AddIndex indexes the entries by the values returned for each, within its
// namespace. An index is added once, by the one component that reads it.
func (x *Index) AddIndex(name string, values func(metav1.Object) []string) error {
	return x.store.AddIndexers(toolscache.Indexers{name: func(obj any) ([]string, error) {
		o, ok := obj.(metav1.Object)
		if !ok {
			return nil, nil
		}
		vals := values(o)
		keys := make([]string, len(vals))
		for i, v := range vals {
			keys[i] = o.GetNamespace() + "/" + v
		}
		return keys, nil
	}})
}

// Indexed returns the namespace's entries that the index files under value.
func (x *Index) Indexed(name, namespace, value string) ([]metav1.Object, error) {
	objs, err := x.store.ByIndex(name, namespace+"/"+value)
	if err != nil {
		return nil, err
	}
	return entries(objs), nil
}

// Selected returns the namespace's cached pods that the selector matches.
func (x *Index) Selected(namespace string, sel labels.Selector) ([]metav1.Object, error) {
	objs, err := x.store.ByIndex(toolscache.NamespaceIndex, namespace)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(entries(objs), func(pod metav1.Object) bool { return !sel.Matches(labels.Set(pod.GetLabels())) }), nil
}

// entries are the store's objects as the metadata they all have.
func entries(objs []any) []metav1.Object {
	pods := make([]metav1.Object, 0, len(objs))
	for _, obj := range objs {
		if pod, ok := obj.(metav1.Object); ok {
			pods = append(pods, pod)
		}
	}
	return pods
}
