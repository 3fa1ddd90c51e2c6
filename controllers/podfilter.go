package controllers

import (
	"context"
	"maps"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/readygate/readygate/api/v1alpha1"
	"github.com/readygate/readygate/internal/podcache"
	"github.com/readygate/readygate/internal/policy"
)

// concerned reports whether the pod reconciler has anything to do for a pod:
// it declares readiness gates, or a policy selects it and it must be told to
// add the gate. Most of a cluster's pods are neither. Each of their events
// would take a place in the work queue, whose maps keep the room they grew
// to: at 10,000 gated pods and 10,000 others, half of it.
//
// A pod a policy comes to select later is queued by that policy's event,
// which reads the pod cache after the pod's own event was filtered here.
func (r *PodGateReconciler) concerned(ctx context.Context, pod metav1.Object) bool {
	return declaresGates(pod) || r.concernsIn(ctx, pod.GetNamespace())(pod)
}

// concernsIn reports whether the reconciler has anything to do for pods of
// the namespace, from one read of its policies.
func (r *PodGateReconciler) concernsIn(ctx context.Context, namespace string) func(metav1.Object) bool {
	policies := &v1alpha1.ReadinessGatePolicyList{}
	if err := r.List(ctx, policies, client.InNamespace(namespace), client.UnsafeDisableDeepCopy); err != nil {
		return func(metav1.Object) bool { return true } // the reconcile will list again and report the error
	}
	return func(pod metav1.Object) bool { return concerns(pod, policies.Items, r.Policies.Selects) }
}

func declaresGates(pod metav1.Object) bool {
	gates, _ := podcache.Readiness(pod)
	return len(gates) > 0
}

// concerns reports whether a pod declares readiness gates or one of the
// policies selects it.
func concerns(pod metav1.Object, policies []v1alpha1.ReadinessGatePolicy, selects policy.SelectsFunc) bool {
	if declaresGates(pod) {
		return true
	}
	for i := range policies {
		if selects(&policies[i], pod) {
			return true
		}
	}
	return false
}

// concernedPods passes the events of pods concerned before or after the
// change (a pod relabelled out of a policy is reconciled once more, as
// before), and every deletion: its reconcile forgets what the operator kept
// of the pod, which a pod a policy once selected may have left behind.
func (r *PodGateReconciler) concernedPods(ctx context.Context) predicate.Funcs {
	return predicate.Funcs{
		CreateFunc: func(e event.CreateEvent) bool { return r.concerned(ctx, e.Object) },
		UpdateFunc: func(e event.UpdateEvent) bool {
			if maps.Equal(e.ObjectOld.GetLabels(), e.ObjectNew.GetLabels()) {
				return r.concerned(ctx, e.ObjectNew) // readiness gates cannot change
			}
			return r.concerned(ctx, e.ObjectOld) || r.concerned(ctx, e.ObjectNew)
		},
		DeleteFunc:  func(event.DeleteEvent) bool { return true },
		GenericFunc: func(e event.GenericEvent) bool { return r.concerned(ctx, e.Object) },
	}
}

// concernedPodsOfSlice maps an EndpointSlice event to the concerned pods its
// endpoints name: a Service's slices name every pod behind it.
func (r *PodGateReconciler) concernedPodsOfSlice(ctx context.Context, obj client.Object) []reconcile.Request {
	var reqs []reconcile.Request
	concerns := r.concernsIn(ctx, obj.GetNamespace())
	for _, name := range slicePods(obj) {
		key := client.ObjectKey{Namespace: obj.GetNamespace(), Name: name}
		if pod, ok := r.pods.Entry(key); ok && concerns(pod) {
			reqs = append(reqs, reconcile.Request{NamespacedName: key})
		}
	}
	return reqs
}
