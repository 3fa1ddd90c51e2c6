package controllers

import "k8s.io/apimachinery/pkg/types"

// Holds reports whether the store keeps the pod's body, so that the suite
// can check a deleted pod's goes with it.
func (b *PodBodies) Holds(uid types.UID) bool {
	b.mu.RLock()
	defer b.mu.RUnlock()
	_, ok := b.bodies[uid]
	return ok
}
