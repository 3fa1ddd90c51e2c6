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

// Matches reports whether p's selector matches the pod, whatever else the
// policy gets wrong, as Selects (the package function) does, but with the
// selector parsed once per generation: a policy held in deletion by its
// author's finalizer is read on each reconcile of each pod of its
// condition type, and a parse at the selector caps costs a quarter of a
// millisecond.
func (c *Cache) Matches(p *v1alpha1.ReadinessGatePolicy, pod metav1.Object) bool {
	compiled := c.Get(p)
	return compiled.Selector != nil && pod.GetNamespace() == compiled.Namespace && compiled.Selector.Matches(labels.Set(pod.GetLabels()))
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

// OwnerAmong is Owner among the policies, as an OwnerFunc.
func OwnerAmong(policies []v1alpha1.ReadinessGatePolicy, selects SelectsFunc) OwnerFunc {
	return func(pod metav1.Object, conditionType string) *v1alpha1.ReadinessGatePolicy {
		return Owner(policies, pod, conditionType, selects)
	}
}

// Owners returns the owner of each condition type the policies decide on
// the pod, as Owner does for one, matching each selector once: a pod's
// reconcile that asked Owner for each policy of its namespace matched each
// selector once per policy of its type, 10,000 matches (12 ms at the
// selector caps) for a tenant's 100 policies of one type, on every
// reconcile of each of its pods, in the workers every namespace shares.
func Owners(policies []v1alpha1.ReadinessGatePolicy, pod metav1.Object, selects SelectsFunc) map[string]*v1alpha1.ReadinessGatePolicy {
	owners := map[string]*v1alpha1.ReadinessGatePolicy{}
	for i := range policies {
		p := &policies[i]
		if p.DeletionTimestamp != nil || !selects(p, pod) {
			continue
		}
		if owner := owners[p.Spec.ConditionType]; owner == nil || Older(p, owner) {
			owners[p.Spec.ConditionType] = p
		}
	}
	return owners
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

// OnDeleteVerdict is what deleted policies of one condition type say of a
// pod's gate.
type OnDeleteVerdict struct {
	// Selected is set when one of them selects the pod; Release is then
	// whether they release it (one that selects it with Retain keeps it).
	Selected, Release bool
	// Released and Retained say whether any of them was deleted with
	// Release, or with Retain.
	Released, Retained bool
}

// Add counts one deleted policy of the type into the verdict.
func (v *OnDeleteVerdict) Add(release, selects bool) {
	if selects && !v.Selected {
		v.Selected, v.Release = true, release
	} else if selects && !release {
		v.Release = false
	}
	v.Released, v.Retained = v.Released || release, v.Retained || !release
}

// Then is the verdict with other's, of policies deleted before, beneath
// it: they decide only a pod that none of v's policies selects.
func (v OnDeleteVerdict) Then(other OnDeleteVerdict) OnDeleteVerdict {
	if !v.Selected {
		v.Selected, v.Release = other.Selected, other.Release
	}
	v.Released, v.Retained = v.Released || other.Released, v.Retained || other.Retained
	return v
}

// Releases says whether the gate is released: as the policy that selects
// the pod says; a pod none selects (relabelled before the operator saw the
// deletion) when each of them released its pods, since its False was
// theirs and nothing is left to decide it (rule 13).
func (v OnDeleteVerdict) Releases() bool {
	if v.Selected {
		return v.Release
	}
	return v.Released && !v.Retained
}

// ReleasedOnDelete is what the policies of the list being deleted say of
// conditionType on the pod, as selects tells which of them select it.
func ReleasedOnDelete(policies []v1alpha1.ReadinessGatePolicy, pod *corev1.Pod, conditionType string, selects SelectsFunc) OnDeleteVerdict {
	var v OnDeleteVerdict
	for i := range policies {
		if p := &policies[i]; p.DeletionTimestamp != nil && p.Spec.ConditionType == conditionType {
			v.Add(p.Spec.OnDelete != v1alpha1.OnDeleteRetain, selects(p, pod))
		}
	}
	return v
}
