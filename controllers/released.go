package controllers

import (
	"time"

	utilcache "k8s.io/apimachinery/pkg/util/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/readygate/readygate/api/v1alpha1"
)

// releasedTypes remembers for a while the condition types of the policies
// deleted with onDelete: Release, per namespace. An evaluation that listed
// such a policy before its deletion can write False after the deletion's
// release read the pod, or the release can read a cache that does not show
// the False yet; the write's own pod event then finds no policy that
// declares the type, and the pod would stay unready with nothing to decide
// it (rules 7 and 13).
type releasedTypes struct{ recent *utilcache.Expiring }

// releasedFor is how long a deleted policy's late writes are expected: far
// longer than a write in flight and the cache's lag behind it.
const releasedFor = 5 * time.Minute

func newReleasedTypes() *releasedTypes { return &releasedTypes{recent: utilcache.NewExpiring()} }

// note remembers a policy gone from the cluster, if it released its gates.
func (r *releasedTypes) note(gone client.Object) {
	if p, ok := gone.(*v1alpha1.ReadinessGatePolicy); ok && p.Spec.OnDelete != v1alpha1.OnDeleteRetain {
		r.recent.Set(releasedKey(p.Namespace, p.Spec.ConditionType), struct{}{}, releasedFor)
	}
}

// recently reports whether a policy of the namespace that declared the
// condition type was deleted with onDelete: Release in the last releasedFor.
func (r *releasedTypes) recently(namespace, conditionType string) bool {
	_, ok := r.recent.Get(releasedKey(namespace, conditionType))
	return ok
}

func releasedKey(namespace, conditionType string) string { return namespace + "/" + conditionType }
