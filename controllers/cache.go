package controllers

import (
	"slices"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/readygate/readygate/internal/podcache"
	"github.com/readygate/readygate/internal/sources"
)

// podKind is the kind of the pods the operator caches, resolves the schema
// of, and finds named by EndpointSlices.
var podKind = corev1.SchemeGroupVersion.WithKind("Pod")

// CacheOptions keep in the pod cache only what the operator's decisions
// read, with each gated pod's whole spec and status in bodies, and strip
// managed fields from every cached object: nothing reads them.
func CacheOptions(bodies *PodBodies) cache.Options {
	return cache.Options{
		DefaultTransform: cache.TransformStripManagedFields(),
		ByObject:         map[client.Object]cache.ByObject{&corev1.Pod{}: {Transform: trimPod(bodies)}},
	}
}

// trimPod keeps of a pod what selection, decisions and Events read.
//
// A pod that declares no readiness gate can never be gated
// (spec.readinessGates is immutable), so no expression is ever evaluated on
// it: the operator needs only what selects it and counts it as missing the
// gate. Such pods are most of a cluster's pods. podcache.Index reads both
// kinds of entry.
//
// A gated pod keeps its metadata, which nearly every expression reads, and
// of its spec and status what the planner and the sources read; the rest
// goes to bodies, from which an expression that reads it gets it back.
func trimPod(bodies *PodBodies) toolscache.TransformFunc {
	return func(obj any) (any, error) {
		pod, ok := obj.(*corev1.Pod)
		if !ok {
			return obj, nil // a deletion tombstone
		}
		if len(pod.Spec.ReadinessGates) == 0 {
			return ungatedPod(pod), nil
		}
		if err := bodies.keep(pod); err != nil {
			return nil, err
		}
		return gatedPod(pod), nil
	}
}

// ungatedPod is what the operator keeps of a pod without readiness gates:
// its metadata for selection and Events, and its phase, in a quarter of an
// empty Pod's size.
func ungatedPod(pod *corev1.Pod) *podcache.Ungated {
	return &podcache.Ungated{
		PartialObjectMetadata: metav1.PartialObjectMetadata{
			TypeMeta: metav1.TypeMeta{APIVersion: podKind.GroupVersion().String(), Kind: podKind.Kind},
			ObjectMeta: metav1.ObjectMeta{
				Name: pod.Name, Namespace: pod.Namespace, UID: pod.UID, ResourceVersion: pod.ResourceVersion,
				Generation: pod.Generation, CreationTimestamp: pod.CreationTimestamp,
				DeletionTimestamp: pod.DeletionTimestamp, Labels: pod.Labels,
			},
		},
		Phase: pod.Status.Phase,
	}
}

// gatedPod is what the cache keeps of a gated pod: its metadata without
// managed fields and the last-applied annotation (often the largest part
// of a pod, and nothing a policy has reason to read); its gates and their
// conditions; ContainersReady, from which failOpenAfter counts; and the
// phase, IP, host networking and named ports of the containers and native
// sidecars that the http and metrics sources dial.
func gatedPod(pod *corev1.Pod) *corev1.Pod {
	meta := pod.ObjectMeta
	meta.ManagedFields = nil
	delete(meta.Annotations, corev1.LastAppliedConfigAnnotation)
	var containers, sidecars []corev1.Container
	for _, c := range pod.Spec.Containers {
		if len(c.Ports) > 0 {
			containers = append(containers, corev1.Container{Name: c.Name, Ports: c.Ports})
		}
	}
	for i := range pod.Spec.InitContainers {
		if c := &pod.Spec.InitContainers[i]; len(c.Ports) > 0 && sources.NativeSidecar(c) {
			sidecars = append(sidecars, corev1.Container{Name: c.Name, Ports: c.Ports, RestartPolicy: c.RestartPolicy})
		}
	}
	return &corev1.Pod{
		TypeMeta:   pod.TypeMeta,
		ObjectMeta: meta,
		Spec: corev1.PodSpec{
			ReadinessGates: pod.Spec.ReadinessGates, HostNetwork: pod.Spec.HostNetwork, Containers: containers, InitContainers: sidecars,
		},
		Status: corev1.PodStatus{
			Phase: pod.Status.Phase, PodIP: pod.Status.PodIP,
			Conditions: decisionConditions(pod),
		},
	}
}

// decisionConditions are the pod's conditions the planner reads: its gates'
// and ContainersReady, in a slice of their own size.
func decisionConditions(pod *corev1.Pod) []corev1.PodCondition {
	read := func(c corev1.PodCondition) bool {
		return c.Type == corev1.ContainersReady || slices.ContainsFunc(pod.Spec.ReadinessGates, func(g corev1.PodReadinessGate) bool {
			return g.ConditionType == c.Type
		})
	}
	// The pod came from the watch's decoder and is the transform's to reuse.
	return slices.Clone(slices.DeleteFunc(pod.Status.Conditions, func(c corev1.PodCondition) bool { return !read(c) }))
}
