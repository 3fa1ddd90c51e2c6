package controllers

import (
	"fmt"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// PodBodies keeps each gated pod's whole spec and status, protobuf-encoded,
// beside the trimmed object the cache holds: about a quarter of the memory of
// the decoded structs, and decoded again only for a policy whose
// expressions read them (cel.Program.ReadsPodBody). So any policy, created
// at any time, reads the whole pod, with no relist of the cluster's pods.
type PodBodies struct {
	mu     sync.RWMutex
	bodies map[types.UID][]byte
}

// NewPodBodies returns an empty store; CacheOptions fills it and Setup reads
// and prunes it.
func NewPodBodies() *PodBodies {
	return &PodBodies{bodies: map[types.UID][]byte{}}
}

// keep records the pod's spec and status as the cache receives it.
func (b *PodBodies) keep(pod *corev1.Pod) error {
	body, err := (&corev1.Pod{Spec: pod.Spec, Status: pod.Status}).Marshal()
	if err != nil {
		return fmt.Errorf("encoding pod %s/%s for the cache: %w", pod.Namespace, pod.Name, err)
	}
	b.mu.Lock()
	b.bodies[pod.UID] = body
	b.mu.Unlock()
	return nil
}

// forget drops a pod's body.
func (b *PodBodies) forget(uid types.UID) {
	b.mu.Lock()
	delete(b.bodies, uid)
	b.mu.Unlock()
}

// restore returns a copy of the cached pod with its whole spec and status.
// The body may be one version newer than the cached object while the
// informer stores an update; the update's event evaluates the pod again.
func (b *PodBodies) restore(pod *corev1.Pod) (*corev1.Pod, error) {
	b.mu.RLock()
	body, ok := b.bodies[pod.UID]
	b.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("the cache holds no spec and status of pod %s/%s", pod.Namespace, pod.Name)
	}
	whole := &corev1.Pod{}
	if err := whole.Unmarshal(body); err != nil {
		return nil, fmt.Errorf("decoding the cached spec and status of pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	whole.TypeMeta, whole.ObjectMeta = pod.TypeMeta, pod.ObjectMeta
	return whole, nil
}
