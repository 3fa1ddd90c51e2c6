package controllers

import (
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/readygate/readygate/internal/podcache"
	"github.com/readygate/readygate/internal/sources"
)

// podKind is the kind of the pods the operator caches, resolves the schema
// of, and finds named by EndpointSlices.
var podKind = corev1.SchemeGroupVersion.WithKind("Pod")

// podTypeMeta types the cache's entries as v1 Pods, which Events name.
var podTypeMeta = metav1.TypeMeta{APIVersion: podKind.GroupVersion().String(), Kind: podKind.Kind}

// CacheOptions keep in the pod cache only what the operator's decisions
// read, each gated pod's whole spec and status encoded beside it, with the
// strings and label sets that pods repeat shared between them, and strip
// managed fields from every cached object: nothing reads them.
func CacheOptions() cache.Options {
	shared := podcache.NewInterner()
	return cache.Options{
		DefaultTransform: cache.TransformStripManagedFields(),
		ByObject: map[client.Object]cache.ByObject{
			&corev1.Pod{}:                {Transform: func(obj any) (any, error) { return trimPod(shared, obj) }},
			&discoveryv1.EndpointSlice{}: {Transform: trimSlice},
		},
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
// Anything but a Pod passes as it is: a deletion tombstone, or an entry
// this function made already (a watch list's items are transformed twice),
// which must not be taken for a whole pod.
func trimPod(shared *podcache.Interner, obj any) (any, error) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return obj, nil
	}
	if len(pod.Spec.ReadinessGates) == 0 {
		return &podcache.Ungated{PartialObjectMetadata: podMetadata(shared, pod), Phase: sharedPhase(shared, pod.Status.Phase)}, nil
	}
	return gatedPod(shared, pod)
}

// podMetadata is what selection and Events read of a pod's metadata.
func podMetadata(shared *podcache.Interner, pod *corev1.Pod) metav1.PartialObjectMetadata {
	return metav1.PartialObjectMetadata{
		TypeMeta: podTypeMeta,
		ObjectMeta: metav1.ObjectMeta{
			Name: pod.Name, Namespace: shared.String(pod.Namespace), UID: pod.UID, ResourceVersion: pod.ResourceVersion,
			Generation: pod.Generation, CreationTimestamp: pod.CreationTimestamp,
			DeletionTimestamp: pod.DeletionTimestamp, Labels: shared.Set(pod.Labels),
		},
	}
}

func sharedPhase(shared *podcache.Interner, phase corev1.PodPhase) corev1.PodPhase {
	return corev1.PodPhase(shared.String(string(phase)))
}

// gatedPod is what the cache keeps of a gated pod: its metadata without
// managed fields and the last-applied annotation (often the largest part
// of a pod, and nothing a policy has reason to read); its gates and their
// conditions; ContainersReady, from which failOpenAfter counts; the phase,
// IP, host networking and named ports that the http and metrics sources
// dial; and its whole spec and status, encoded.
func gatedPod(shared *podcache.Interner, pod *corev1.Pod) (*podcache.Gated, error) {
	body, err := podcache.EncodeBody(pod)
	if err != nil {
		return nil, fmt.Errorf("encoding pod %s/%s for the cache: %w", pod.Namespace, pod.Name, err)
	}
	meta := pod.ObjectMeta
	meta.ManagedFields = nil
	delete(meta.Annotations, corev1.LastAppliedConfigAnnotation)
	meta.Namespace, meta.GenerateName = shared.String(meta.Namespace), shared.String(meta.GenerateName)
	meta.Labels, meta.Annotations = shared.Set(meta.Labels), shared.Set(meta.Annotations)
	for i := range meta.OwnerReferences {
		o := &meta.OwnerReferences[i]
		o.APIVersion, o.Kind, o.Name = shared.String(o.APIVersion), shared.String(o.Kind), shared.String(o.Name)
		o.UID = types.UID(shared.String(string(o.UID)))
	}
	return &podcache.Gated{
		PartialObjectMetadata: metav1.PartialObjectMetadata{TypeMeta: podTypeMeta, ObjectMeta: meta},
		Gates:                 pod.Spec.ReadinessGates,
		Conditions:            decisionConditions(shared, pod),
		Phase:                 sharedPhase(shared, pod.Status.Phase), PodIP: pod.Status.PodIP, HostNetwork: pod.Spec.HostNetwork,
		NamedPorts: namedPorts(pod),
		Body:       body,
	}, nil
}

// namedPorts are the named ports of the pod's containers and then of its
// native sidecars, the order in which the sources look a name up.
func namedPorts(pod *corev1.Pod) []corev1.ContainerPort {
	var ports []corev1.ContainerPort
	add := func(c *corev1.Container) {
		for _, p := range c.Ports {
			if p.Name != "" {
				ports = append(ports, p)
			}
		}
	}
	for i := range pod.Spec.Containers {
		add(&pod.Spec.Containers[i])
	}
	for i := range pod.Spec.InitContainers {
		if c := &pod.Spec.InitContainers[i]; sources.NativeSidecar(c) {
			add(c)
		}
	}
	return ports
}

// decisionConditions are the pod's conditions the planner reads: its gates'
// and ContainersReady, in a slice of their own size.
func decisionConditions(shared *podcache.Interner, pod *corev1.Pod) []corev1.PodCondition {
	read := func(c corev1.PodCondition) bool {
		return c.Type == corev1.ContainersReady || slices.ContainsFunc(pod.Spec.ReadinessGates, func(g corev1.PodReadinessGate) bool {
			return g.ConditionType == c.Type
		})
	}
	// The pod came from the watch's decoder and is the transform's to reuse.
	kept := slices.Clone(slices.DeleteFunc(pod.Status.Conditions, func(c corev1.PodCondition) bool { return !read(c) }))
	for i := range kept {
		c := &kept[i]
		c.Type, c.Status = corev1.PodConditionType(shared.String(string(c.Type))), corev1.ConditionStatus(shared.String(string(c.Status)))
		c.Reason, c.Message = shared.String(c.Reason), shared.String(c.Message)
	}
	return kept
}

// trimSlice keeps of an EndpointSlice what the endpoints source and the
// index of slices by pod read: anyone who may write a slice in a namespace
// may fill it with 1,000 endpoints, long names and 256 KiB of annotations,
// and the operator caches every slice of the cluster. Of an endpoint's
// addresses, all fungible, the first is kept, as clients may use the first
// alone; an endpoint that targets no pod is nobody's to read. A slice
// trimmed already (a watch list's items are transformed twice) has no UID.
func trimSlice(obj any) (any, error) {
	s, ok := obj.(*discoveryv1.EndpointSlice)
	if !ok || s.UID == "" {
		return obj, nil
	}
	out := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Name: s.Name, Namespace: s.Namespace, ResourceVersion: s.ResourceVersion,
			Labels: map[string]string{discoveryv1.LabelServiceName: s.Labels[discoveryv1.LabelServiceName]}},
		AddressType: s.AddressType,
		Ports:       s.Ports,
	}
	for _, e := range s.Endpoints {
		if e.TargetRef == nil || e.TargetRef.Kind != podKind.Kind {
			continue
		}
		out.Endpoints = append(out.Endpoints, discoveryv1.Endpoint{
			Addresses:  slices.Clone(e.Addresses[:min(1, len(e.Addresses))]), // not the array of all
			Conditions: e.Conditions,
			TargetRef:  &corev1.ObjectReference{Kind: e.TargetRef.Kind, Name: e.TargetRef.Name, UID: e.TargetRef.UID},
		})
	}
	return out, nil
}
