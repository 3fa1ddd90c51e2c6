package podcache

import (
	"bytes"
	"fmt"
	"slices"

	"github.com/klauspost/compress/s2"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// Gated is what the cache keeps of a pod that declares readiness gates: its
// metadata, which selection and most expressions read; what the planner and
// the sources read of its spec and status; and the whole spec and status,
// protobuf-encoded, for a policy whose expressions read them. Kept this way
// a gated pod costs about two thirds of a trimmed Pod: the Pod struct alone
// is 1.2 KiB, and each container in it 400 B.
type Gated struct {
	metav1.PartialObjectMetadata
	// Gates are the pod's readiness gates.
	Gates []corev1.PodReadinessGate
	// Conditions are its gates' conditions and ContainersReady, from which
	// failOpenAfter counts.
	Conditions []corev1.PodCondition
	Phase      corev1.PodPhase
	// PodIP and HostNetwork are what the http and metrics sources dial.
	PodIP       string
	HostNetwork bool
	// NamedPorts are the named ports of the pod's containers and then of its
	// native sidecars: the order in which a policy's named port is looked up.
	NamedPorts []corev1.ContainerPort
	// Body is the pod's spec and status, whole, protobuf-encoded (about a
	// quarter of their decoded size) and compressed with S2 (a third less
	// again: image names, timestamps and condition reasons repeat); see
	// EncodeBody.
	Body []byte
}

// DeepCopyObject copies the entry.
func (g *Gated) DeepCopyObject() runtime.Object {
	c := &Gated{
		PartialObjectMetadata: *g.DeepCopy(),
		Gates:                 slices.Clone(g.Gates),
		Phase:                 g.Phase, PodIP: g.PodIP, HostNetwork: g.HostNetwork,
		NamedPorts: slices.Clone(g.NamedPorts),
		Body:       slices.Clone(g.Body),
	}
	for i := range g.Conditions {
		c.Conditions = append(c.Conditions, *g.Conditions[i].DeepCopy())
	}
	return c
}

// PodPhase is the pod's phase, as policy counts read it.
func (g *Gated) PodPhase() corev1.PodPhase { return g.Phase }

// Pod is the entry as the planner and the sources read it, made for the
// caller and sharing the entry's slices and maps, which must not be
// modified. Its named ports are all in one container, in lookup order.
func (g *Gated) Pod() *corev1.Pod {
	pod := &corev1.Pod{
		TypeMeta: g.TypeMeta, ObjectMeta: g.ObjectMeta,
		Spec:   corev1.PodSpec{ReadinessGates: g.Gates, HostNetwork: g.HostNetwork},
		Status: corev1.PodStatus{Phase: g.Phase, PodIP: g.PodIP, Conditions: g.Conditions},
	}
	if len(g.NamedPorts) > 0 {
		pod.Spec.Containers = []corev1.Container{{Ports: g.NamedPorts}}
	}
	return pod
}

// EncodeBody is a pod's spec and status as Gated.Body keeps them.
func EncodeBody(pod *corev1.Pod) ([]byte, error) {
	raw, err := (&corev1.Pod{Spec: pod.Spec, Status: pod.Status}).Marshal()
	if err != nil {
		return nil, err
	}
	// S2 writes into a buffer of its worst case, larger than the pod's
	// answer: the entry keeps a copy of what it wrote.
	return bytes.Clone(s2.Encode(nil, raw)), nil
}

// Whole is the pod with its whole spec and status, decoded for the caller.
func (g *Gated) Whole() (*corev1.Pod, error) {
	whole := &corev1.Pod{}
	raw, err := s2.Decode(nil, g.Body)
	if err == nil {
		err = whole.Unmarshal(raw)
	}
	if err != nil {
		return nil, fmt.Errorf("decoding the cached spec and status of pod %s/%s: %w", g.Namespace, g.Name, err)
	}
	whole.TypeMeta, whole.ObjectMeta = g.TypeMeta, g.ObjectMeta
	return whole, nil
}

// Readiness returns the readiness gates and the conditions of a pod or of
// either kind of cache entry: none for an entry of a pod without gates.
func Readiness(obj metav1.Object) ([]corev1.PodReadinessGate, []corev1.PodCondition) {
	switch p := obj.(type) {
	case *corev1.Pod:
		return p.Spec.ReadinessGates, p.Status.Conditions
	case *Gated:
		return p.Gates, p.Conditions
	}
	return nil, nil
}

// Phase returns the phase of a pod or of either kind of cache entry.
func Phase(obj metav1.Object) corev1.PodPhase {
	switch p := obj.(type) {
	case *corev1.Pod:
		return p.Status.Phase
	case interface{ PodPhase() corev1.PodPhase }:
		return p.PodPhase()
	}
	return ""
}
