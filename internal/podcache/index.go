// Package podcache reads the manager's pod informer straight from its
// store, where controllers.CacheOptions keeps a gated pod as a trimmed
// *corev1.Pod and a pod that declares no readiness gate as an *Ungated:
// most of a cluster's pods, each at a quarter of an empty Pod struct's size.
package podcache

import (
	"context"
	"fmt"

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

// Get returns the cached pod, if any: a gated pod as the cache keeps it,
// or for an ungated pod a Pod of its metadata and phase alone, made for the
// caller.
func (x *Index) Get(key types.NamespacedName) (*corev1.Pod, bool) {
	obj, ok, err := x.store.GetByKey(key.Namespace + "/" + key.Name)
	if err != nil || !ok {
		return nil, false
	}
	switch o := obj.(type) {
	case *corev1.Pod:
		return o, true
	case *Ungated:
		return &corev1.Pod{TypeMeta: o.TypeMeta, ObjectMeta: o.ObjectMeta, Status: corev1.PodStatus{Phase: o.Phase}}, true
	}
	return nil, false
}

// Selected returns the namespace's cached pods that the selector matches.
func (x *Index) Selected(namespace string, sel labels.Selector) ([]metav1.Object, error) {
	objs, err := x.store.ByIndex(toolscache.NamespaceIndex, namespace)
	if err != nil {
		return nil, err
	}
	pods := make([]metav1.Object, 0, len(objs))
	for _, obj := range objs {
		if pod, ok := obj.(metav1.Object); ok && sel.Matches(labels.Set(pod.GetLabels())) {
			pods = append(pods, pod)
		}
	}
	return pods, nil
}
