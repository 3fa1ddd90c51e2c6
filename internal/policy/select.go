// Package policy holds the per-policy decisions that need no client: which
// pods a policy selects and owns, its compiled program, and its status.
package policy

import (
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"

	"github.com/readygate/readygate/api/v1alpha1"
)

// Selector returns the policy's label selector, or an error that names the
// field. Parsed selectors are kept per policy generation: every pod's
// reconcile asks for the selectors of its namespace's policies.
func Selector(p *v1alpha1.ReadinessGatePolicy) (labels.Selector, error) {
	key := selectorKey{p.UID, p.Generation}
	if s, ok := selectors.Load(key); ok {
		return s.(parsedSelector).sel, s.(parsedSelector).err
	}
	sel, err := metav1.LabelSelectorAsSelector(&p.Spec.Selector)
	if err != nil {
		err = fmt.Errorf("spec.selector: %w", err)
	}
	if p.UID != "" {
		selectors.Store(key, parsedSelector{sel, err})
	}
	return sel, err
}

// ForgetSelectors drops a deleted policy's parsed selectors.
func ForgetSelectors(uid types.UID) {
	selectors.Range(func(k, _ any) bool {
		if k.(selectorKey).uid == uid {
			selectors.Delete(k)
		}
		return true
	})
}

type selectorKey struct {
	uid        types.UID
	generation int64
}

type parsedSelector struct {
	sel labels.Selector
	err error
}

var selectors sync.Map // selectorKey -> parsedSelector

// Selects reports whether p selects the pod: same namespace and matching labels.
func Selects(p *v1alpha1.ReadinessGatePolicy, pod *corev1.Pod) bool {
	if p.Namespace != pod.Namespace {
		return false
	}
	sel, err := Selector(p)
	return err == nil && sel.Matches(labels.Set(pod.Labels))
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
func Owner(policies []v1alpha1.ReadinessGatePolicy, pod *corev1.Pod, conditionType string) *v1alpha1.ReadinessGatePolicy {
	var owner *v1alpha1.ReadinessGatePolicy
	for i := range policies {
		p := &policies[i]
		if p.DeletionTimestamp != nil || p.Spec.ConditionType != conditionType || !Selects(p, pod) {
			continue
		}
		if owner == nil || Older(p, owner) {
			owner = p
		}
	}
	return owner
}

// DefaultInterval is the CRD's default interval, for objects that did not
// come through the API server.
const DefaultInterval = 10 * time.Second

// Interval is how often the policy re-evaluates each pod.
func Interval(p *v1alpha1.ReadinessGatePolicy) time.Duration {
	if p.Spec.Interval == nil {
		return DefaultInterval
	}
	return p.Spec.Interval.Duration
}
