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
	bodies map[types.UID]podBody
}

// podBody is a pod's encoded spec and status, and the resourceVersion of the
// pod they were taken from.
type podBody struct {
	resourceVersion string
	encoded         []byte
}

// NewPodBodies returns an empty store; CacheOptions fills it and Setup reads
// and prunes it.
func NewPodBodies() *PodBodies {
	return &PodBodies{bodies: map[types.UID]podBody{}}
}

// keep records the pod's spec and status as the cache receives it. A
// version it holds already is the cache's own trimmed pod coming back (a
// watch list's items are transformed twice), not a whole one: it keeps
// what it has.
func (b *PodBodies) keep(pod *corev1.Pod) error {
	b.mu.RLock()
	held, ok := b.bodies[pod.UID]
	b.mu.RUnlock()
	if ok && held.resourceVersion == pod.ResourceVersion {
		return nil
	}
	body, err := (&corev1.Pod{Spec: pod.Spec, Status: pod.Status}).Marshal()
	if err != nil {
		return fmt.Errorf("encoding pod %s/%s for the cache: %w", pod.Namespace, pod.Name, err)
	}
	b.mu.Lock()
	b.bodies[pod.UID] = podBody{resourceVersion: pod.ResourceVersion, encoded: body}
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
	if err := whole.Unmarshal(body.encoded); err != nil {
		return nil, fmt.Errorf("decoding the cached spec and status of pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	whole.TypeMeta, whole.ObjectMeta = pod.TypeMeta, pod.ObjectMeta
	return whole, nil
}
