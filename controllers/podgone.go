package controllers

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"
)

// onPodGone calls each forget with the UID of a pod the informer drops:
// deleted, lost while the watch was down (a tombstone), or replaced under
// its name by a pod with another UID, which a relist reports as an update.
// What the operator keeps by pod UID goes with the pod then, not when a
// reconcile next looks: a deleted pod is never reconciled with its UID.
func onPodGone(forgets ...func(types.UID)) toolscache.ResourceEventHandlerFuncs {
	uid := func(obj any) (types.UID, bool) {
		if tombstone, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
			obj = tombstone.Obj
		}
		pod, ok := obj.(*corev1.Pod)
		if !ok {
			return "", false
		}
		return pod.UID, true
	}
	forget := func(gone types.UID) {
		for _, f := range forgets {
			f(gone)
		}
	}
	return toolscache.ResourceEventHandlerFuncs{
		UpdateFunc: func(oldObj, newObj any) {
			old, ok := uid(oldObj)
			if cur, _ := uid(newObj); ok && old != cur {
				forget(old)
			}
		},
		DeleteFunc: func(obj any) {
			if gone, ok := uid(obj); ok {
				forget(gone)
			}
		},
	}
}
