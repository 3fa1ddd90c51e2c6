package controllers

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	utilcache "k8s.io/apimachinery/pkg/util/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/readygate/readygate/api/v1alpha1"
	"github.com/readygate/readygate/internal/policy"
)

// releasedTypes remembers for a while the policies deleted from each
// namespace: their condition type, the pods they selected and whether they
// released them. An evaluation that listed such a policy before its
// deletion can write False after the deletion's release read the pod, or
// the release can read a cache that does not show the False yet; the
// write's own pod event then finds no policy that declares the type, and the
// pod would stay unready with nothing to decide it (rules 7 and 13).
type releasedTypes struct{ recent *utilcache.Expiring }

// deletedPolicy is what is remembered of one deleted policy.
type deletedPolicy struct {
	conditionType string
	selector      labels.Selector
	release       bool
}

// releasedFor is how long a deleted policy's late writes are expected: far
// longer than a write in flight and the cache's lag behind it.
const releasedFor = 5 * time.Minute

// releasedPerNamespace is how many deletions of one namespace are
// remembered, the newest: those whose evaluations may still be under way,
// and enough for a namespace's whole set of policies deleted at once.
const releasedPerNamespace = 256

// releasedSelectorBytes bounds a remembered selector: a tenant's made-up
// giant selectors must not be kept by the hundred.
const releasedSelectorBytes = 4096

func newReleasedTypes() *releasedTypes { return &releasedTypes{recent: utilcache.NewExpiring()} }

// note remembers a policy gone from the cluster.
func (r *releasedTypes) note(gone client.Object) {
	p, ok := gone.(*v1alpha1.ReadinessGatePolicy)
	if !ok {
		return
	}
	sel, err := metav1.LabelSelectorAsSelector(&p.Spec.Selector)
	if err != nil || len(sel.String()) > releasedSelectorBytes {
		return
	}
	list := r.of(p.Namespace)
	list = append(list[max(0, len(list)-releasedPerNamespace+1):len(list):len(list)], deletedPolicy{
		conditionType: p.Spec.ConditionType, selector: sel, release: p.Spec.OnDelete != v1alpha1.OnDeleteRetain,
	})
	r.recent.Set(p.Namespace, list, releasedFor)
}

// recently is what the policies of the namespace deleted in the last
// releasedFor say of the condition type on a pod with these labels: the
// newest that selects it decides.
func (r *releasedTypes) recently(namespace, conditionType string, podLabels map[string]string) policy.OnDeleteVerdict {
	var v policy.OnDeleteVerdict
	list := r.of(namespace)
	for i := len(list) - 1; i >= 0; i-- {
		if d := list[i]; d.conditionType == conditionType {
			v.Add(d.release, !v.Selected && d.selector.Matches(labels.Set(podLabels)))
		}
	}
	return v
}

func (r *releasedTypes) of(namespace string) []deletedPolicy {
	list, _ := r.recent.Get(namespace)
	deleted, _ := list.([]deletedPolicy)
	return deleted
}
