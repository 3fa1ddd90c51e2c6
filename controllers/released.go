package controllers

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	utilcache "k8s.io/apimachinery/pkg/util/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/readygate/readygate/api/v1alpha1"
)

// releasedTypes remembers for a while the policies deleted with onDelete:
// Release, by namespace and condition type: which pods they selected. An
// evaluation that listed such a policy before its deletion can write False
// after the deletion's release read the pod, or the release can read a
// cache that does not show the False yet; the write's own pod event then
// finds no policy that declares the type, and the pod would stay unready
// with nothing to decide it (rules 7 and 13).
type releasedTypes struct{ recent *utilcache.Expiring }

// releasedFor is how long a deleted policy's late writes are expected: far
// longer than a write in flight and the cache's lag behind it.
const releasedFor = 5 * time.Minute

func newReleasedTypes() *releasedTypes { return &releasedTypes{recent: utilcache.NewExpiring()} }

// note remembers a policy gone from the cluster, if it released its gates.
func (r *releasedTypes) note(gone client.Object) {
	p, ok := gone.(*v1alpha1.ReadinessGatePolicy)
	if !ok || p.Spec.OnDelete == v1alpha1.OnDeleteRetain {
		return
	}
	sel, err := metav1.LabelSelectorAsSelector(&p.Spec.Selector)
	if err != nil {
		return // it selected no pod
	}
	key := releasedKey(p.Namespace, p.Spec.ConditionType)
	selectors, _ := r.recent.Get(key)
	list, _ := selectors.([]labels.Selector)
	// A tenant deleting policies in a loop must not grow it without bound:
	// the newest ones are those whose evaluations may still be under way.
	list = append(list[max(0, len(list)-releasedPerType+1):len(list):len(list)], sel)
	r.recent.Set(key, list, releasedFor)
}

// releasedPerType is how many deleted policies of one namespace and
// condition type are remembered.
const releasedPerType = 16

// recently reports whether a policy of the namespace that decided the
// condition type, and selected a pod with these labels, was deleted with
// onDelete: Release in the last releasedFor.
func (r *releasedTypes) recently(namespace, conditionType string, podLabels map[string]string) bool {
	selectors, _ := r.recent.Get(releasedKey(namespace, conditionType))
	list, _ := selectors.([]labels.Selector)
	for _, sel := range list {
		if sel.Matches(labels.Set(podLabels)) {
			return true
		}
	}
	return false
}

func releasedKey(namespace, conditionType string) string { return namespace + "/" + conditionType }
