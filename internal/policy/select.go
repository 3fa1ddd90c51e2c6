// Package policy holds the per-policy decisions that need no client: which
// pods a policy selects and owns, its compiled program, and its status.
package policy

import (
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/readygate/readygate/api/v1alpha1"
)

// Selector returns the policy's label selector, or an error that names the field.
func Selector(p *v1alpha1.ReadinessGatePolicy) (labels.Selector, error) {
	sel, err := metav1.LabelSelectorAsSelector(&p.Spec.Selector)
	if err != nil {
		return nil, fmt.Errorf("spec.selector: %w", err)
	}
	return sel, nil
}

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
