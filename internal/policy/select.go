// Package policy holds the per-policy decisions that need no client: which
// pods a policy selects and owns, its compiled form, and its status.
package policy

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/readygate/readygate/api/v1alpha1"
)

// SelectsFunc reports whether a policy selects a pod, of which it reads the
// metadata alone: the cache keeps no more of an ungated pod but its phase.
type SelectsFunc func(p *v1alpha1.ReadinessGatePolicy, pod metav1.Object) bool

// Selects reports whether p selects the pod: same namespace and matching
// labels. It parses the selector on every call; the reconcilers use
// Cache.Selects, which parses once per generation.
func Selects(p *v1alpha1.ReadinessGatePolicy, pod metav1.Object) bool {
	if p.Namespace != pod.GetNamespace() {
		return false
	}
	sel, err := metav1.LabelSelectorAsSelector(&p.Spec.Selector)
	return err == nil && sel.Matches(labels.Set(pod.GetLabels()))
}

// Selects reports whether p, compiled, selects the pod.
func (c *Cache) Selects(p *v1alpha1.ReadinessGatePolicy, pod metav1.Object) bool {
	return c.Get(p).Selects(pod.GetNamespace(), pod.GetLabels())
}

// Older reports whether a wins over b for a condition type both claim: the
// older policy wins, and the name breaks a tie.
func Older(a, b *v1alpha1.ReadinessGatePolicy) bool {
	if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
		return a.CreationTimestamp.Before(&b.CreationTimestamp)
	}
	return a.Name < b.Name
}

// Owner returns, among the live policies, the one that decides conditionType
// on the pod: the oldest that selects it. Policies being deleted own nothing.
func Owner(policies []v1alpha1.ReadinessGatePolicy, pod metav1.Object, conditionType string, selects SelectsFunc) *v1alpha1.ReadinessGatePolicy {
	var owner *v1alpha1.ReadinessGatePolicy
	for i := range policies {
		p := &policies[i]
		if p.DeletionTimestamp != nil || p.Spec.ConditionType != conditionType || !selects(p, pod) {
			continue
		}
		if owner == nil || Older(p, owner) {
			owner = p
		}
	}
	return owner
}

// Declared reports whether a live policy of the list owns conditionType for
// some pods, selecting this pod or not.
func Declared(policies []v1alpha1.ReadinessGatePolicy, conditionType string) bool {
	for i := range policies {
		if policies[i].DeletionTimestamp == nil && policies[i].Spec.ConditionType == conditionType {
			return true
		}
	}
	return false
}

// ReleasedOnDelete reports whether the policies of the list being deleted
// release conditionType on the pod: one that selects it with onDelete:
// Retain keeps it; else one that selects it with Release releases it. A pod
// none of them selects any more (relabelled, or the selector edited, before
// the operator saw it) is released when every one of them releases: its
// False was theirs, and no policy is left to decide it (rule 13).
func ReleasedOnDelete(policies []v1alpha1.ReadinessGatePolicy, pod *corev1.Pod, conditionType string) bool {
	selected, released, retained := false, false, false
	for i := range policies {
		p := &policies[i]
		if p.DeletionTimestamp == nil || p.Spec.ConditionType != conditionType {
			continue
		}
		retain := p.Spec.OnDelete == v1alpha1.OnDeleteRetain
		if Selects(p, pod) {
			if retain {
				return false
			}
			selected = true
		}
		released, retained = released || !retain, retained || retain
	}
	return selected || released && !retained
}
