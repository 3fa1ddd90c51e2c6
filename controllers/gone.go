package controllers

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// onGone calls each forget with an object the informer drops: deleted,
// lost while the watch was down (a tombstone), or replaced under its name
// by one with another UID, which a relist reports as an update. What the
// operator keeps of a pod or a policy goes with it then, however it went:
// a reconcile after the deletion finds nothing to say which object it was.
func onGone(forgets ...func(gone client.Object)) toolscache.ResourceEventHandlerFuncs {
	object := func(obj any) (client.Object, bool) {
		if tombstone, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
			obj = tombstone.Obj
		}
		o, ok := obj.(client.Object)
		return o, ok
	}
	forget := func(gone client.Object) {
		for _, f := range forgets {
			f(gone)
		}
	}
	return toolscache.ResourceEventHandlerFuncs{
		UpdateFunc: func(oldObj, newObj any) {
			old, ok := object(oldObj)
			if cur, curOK := object(newObj); ok && curOK && old.GetUID() != cur.GetUID() {
				forget(old)
			}
		},
		DeleteFunc: func(obj any) {
			if gone, ok := object(obj); ok {
				forget(gone)
			}
		},
	}
}

// byUID adapts a forget keyed by UID.
func byUID(forget func(types.UID)) func(client.Object) {
	return func(o client.Object) { forget(o.GetUID()) }
}

// forgetGone calls each forget with an object of obj's kind that the
// cache's informer drops.
func forgetGone(ctx context.Context, c cache.Cache, obj client.Object, forgets ...func(client.Object)) error {
	inf, err := c.GetInformer(ctx, obj, cache.BlockUntilSynced(false))
	if err != nil {
		return fmt.Errorf("getting the %T informer: %w", obj, err)
	}
	if _, err := inf.AddEventHandler(onGone(forgets...)); err != nil {
		return fmt.Errorf("watching %T deletions: %w", obj, err)
	}
	return nil
}
