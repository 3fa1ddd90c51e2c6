package controllers

import (
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// CacheOptions keep in the pod cache only what the operator reads.
func CacheOptions() cache.Options {
	return cache.Options{
		ByObject: map[client.Object]cache.ByObject{&corev1.Pod{}: {Transform: trimPod}},
	}
}

// trimPod drops what no expression or decision reads: managed fields and the
// last-applied annotation, which are often the largest part of a pod.
func trimPod(obj any) (any, error) {
	if pod, ok := obj.(*corev1.Pod); ok {
		pod.ManagedFields = nil
		delete(pod.Annotations, corev1.LastAppliedConfigAnnotation)
	}
	return obj, nil
}
