package podcache

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// Ungated is what the cache keeps of a pod that declares no readiness gate:
// the metadata that selects it and names it in an Event (typed as a v1
// Pod), and its phase, so that a finished pod is not told to add a gate.
type Ungated struct {
	metav1.PartialObjectMetadata
	Phase corev1.PodPhase
}

// DeepCopyObject copies the entry, phase included.
func (u *Ungated) DeepCopyObject() runtime.Object {
	return &Ungated{PartialObjectMetadata: *u.DeepCopy(), Phase: u.Phase}
}

// Pod is the entry as a Pod of its metadata and phase alone, made for the
// caller, sharing the entry's maps, which must not be modified.
func (u *Ungated) Pod() *corev1.Pod {
	return &corev1.Pod{TypeMeta: u.TypeMeta, ObjectMeta: u.ObjectMeta, Status: corev1.PodStatus{Phase: u.Phase}}
}

// PodPhase is the pod's phase, as policy counts read it.
func (u *Ungated) PodPhase() corev1.PodPhase { return u.Phase }
