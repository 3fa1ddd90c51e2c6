package controllers

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// podIndex reads pods straight from the informer's store. A cached List,
// even without deep copies, copies every pod struct into the list's items:
// at 50,000 pods that is tens of MiB of garbage per recount. The pods it
// returns are the cache's own and must not be modified.
type podIndex struct {
	store toolscache.Indexer
}

// newPodIndex reads the cache's pod informer, and calls each forget as the
// informer drops a pod.
func newPodIndex(ctx context.Context, c cache.Cache, forgets ...func(client.Object)) (*podIndex, error) {
	inf, err := c.GetInformer(ctx, &corev1.Pod{})
	if err != nil {
		return nil, fmt.Errorf("getting the pod informer: %w", err)
	}
	if _, err := inf.AddEventHandler(onGone(forgets...)); err != nil {
		return nil, fmt.Errorf("watching pod deletions: %w", err)
	}
	withIndexer, ok := inf.(interface{ GetIndexer() toolscache.Indexer })
	if !ok {
		return nil, fmt.Errorf("the pod informer (%T) exposes no indexer", inf)
	}
	return &podIndex{store: withIndexer.GetIndexer()}, nil
}

// get returns the cached pod, if any.
func (x *podIndex) get(key types.NamespacedName) (*corev1.Pod, bool) {
	obj, ok, err := x.store.GetByKey(key.Namespace + "/" + key.Name)
	if err != nil || !ok {
		return nil, false
	}
	pod, ok := obj.(*corev1.Pod)
	return pod, ok
}

// selected returns the namespace's cached pods that the selector matches.
func (x *podIndex) selected(namespace string, sel labels.Selector) ([]*corev1.Pod, error) {
	objs, err := x.store.ByIndex(toolscache.NamespaceIndex, namespace)
	if err != nil {
		return nil, err
	}
	pods := make([]*corev1.Pod, 0, len(objs))
	for _, obj := range objs {
		if pod, ok := obj.(*corev1.Pod); ok && sel.Matches(labels.Set(pod.Labels)) {
			pods = append(pods, pod)
		}
	}
	return pods, nil
}
