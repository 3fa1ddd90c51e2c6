package controllers

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// CacheOptions keep in the pod cache only what the operator reads, and strip
// managed fields from every cached object: nothing reads them.
func CacheOptions() cache.Options {
	return cache.Options{
		DefaultTransform: cache.TransformStripManagedFields(),
		ByObject:         map[client.Object]cache.ByObject{&corev1.Pod{}: {Transform: trimPod}},
	}
}

// trimPod drops what no expression or decision can read.
//
// A pod that declares no readiness gate can never be gated (spec.readinessGates
// is immutable), so no expression is ever evaluated on it: the operator needs
// only what selects it and counts it as missing the gate (its name,
// namespace, labels, UID, deletion and phase), and what an Event about it
// names. Such pods are most of a cluster's pods.
//
// A gated pod is exposed whole to CEL as `pod`, and a policy created later
// may read any field of it, while the cache already holds the trimmed
// object; so only managed fields and the last-applied annotation go, which
// are often the largest part of a pod and which no policy has a reason to
// read (docs/scaling.md says so to policy authors).
func trimPod(obj any) (any, error) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return obj, nil // a deletion tombstone
	}
	if len(pod.Spec.ReadinessGates) == 0 {
		return ungatedPod(pod), nil
	}
	pod.ManagedFields = nil
	delete(pod.Annotations, corev1.LastAppliedConfigAnnotation)
	return pod, nil
}

// ungatedPod is what the operator keeps of a pod without readiness gates.
func ungatedPod(pod *corev1.Pod) *corev1.Pod {
	return &corev1.Pod{
		TypeMeta: pod.TypeMeta,
		ObjectMeta: metav1.ObjectMeta{
			Name: pod.Name, Namespace: pod.Namespace, UID: pod.UID, ResourceVersion: pod.ResourceVersion,
			Generation: pod.Generation, CreationTimestamp: pod.CreationTimestamp,
			DeletionTimestamp: pod.DeletionTimestamp, Labels: pod.Labels,
		},
		Status: corev1.PodStatus{Phase: pod.Status.Phase},
	}
}
