package policy

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/readygate/readygate/api/v1alpha1"
	"github.com/readygate/readygate/internal/gate"
	"github.com/readygate/readygate/internal/podcache"
	"github.com/readygate/readygate/internal/sources"
)

// Tally is one pod's part in a policy's Summary; the zero Tally counts for
// nothing (the policy does not select the pod, or the pod is going away).
type Tally struct {
	Matched, Ready, Missing, Held, Stale, Unevaluated, FailedOpen bool
	// StaleMessage is the error a stale pod is held on.
	StaleMessage string
	// Winner names the older policy that decides the pod instead.
	Winner string
}

// OwnerFunc returns the live policy that decides a condition type on the
// pod, as Owner does; nil when none.
type OwnerFunc func(pod metav1.Object, conditionType string) *v1alpha1.ReadinessGatePolicy

// TallyPod classifies one pod for the policy: owner finds the policy of its
// namespace that decides the pod's gate, and stateOf is what the operator
// remembers of the pod under the policy.
func TallyPod(c *Compiled, obj metav1.Object, owner OwnerFunc, stateOf func(metav1.Object) gate.State) Tally {
	if !c.Selects(obj.GetNamespace(), obj.GetLabels()) || obj.GetDeletionTimestamp() != nil ||
		sources.TerminalPhase(podcache.Phase(obj)) {
		return Tally{}
	}
	if owner := owner(obj, c.ConditionType); owner != nil && owner.UID != c.UID {
		return Tally{Winner: owner.Name}
	}
	gates, conditions := podcache.Readiness(obj)
	if !gate.Declares(gates, c.ConditionType) {
		return Tally{Missing: true}
	}
	t := Tally{Matched: true}
	cond := gate.FindIn(conditions, c.ConditionType)
	if cond == nil {
		t.Unevaluated = true
		return t
	}
	cond = c.Settings.Verdict(cond)
	t.Ready = cond != nil && cond.Status == corev1.ConditionTrue
	t.FailedOpen = t.Ready && cond.Reason == v1alpha1.ReasonTimedOut
	st := stateOf(obj)
	t.Held, t.Stale = st.FlipHeld, st.Stale
	if t.Stale {
		t.StaleMessage = st.StaleMessage
	}
	return t
}

// Counts keeps a policy's Summary pod by pod, so that a pod event costs the
// recount one pod, not all of them.
type Counts struct {
	pods map[types.NamespacedName]Tally
	sum  Summary
	// stale and conflicts hold the pods the examples are taken from.
	stale, conflicts map[types.NamespacedName]bool
	// The examples stay the same while they hold, so that the status does
	// not change, and get written, only because another pod was picked.
	staleExample, conflictExample types.NamespacedName
}

// NewCounts returns counts of no pods.
func NewCounts() *Counts {
	return &Counts{pods: map[types.NamespacedName]Tally{}, stale: map[types.NamespacedName]bool{}, conflicts: map[types.NamespacedName]bool{}}
}

// Set replaces the pod's tally; the zero Tally removes the pod.
func (c *Counts) Set(pod types.NamespacedName, t Tally) {
	c.add(c.pods[pod], -1)
	delete(c.pods, pod)
	delete(c.stale, pod)
	delete(c.conflicts, pod)
	if t == (Tally{}) {
		return
	}
	c.pods[pod] = t
	c.add(t, 1)
	if t.Stale {
		c.stale[pod] = true
	}
	if t.Winner != "" {
		c.conflicts[pod] = true
	}
}

func (c *Counts) add(t Tally, sign int32) {
	for _, f := range []struct {
		set bool
		n   *int32
	}{{t.Matched, &c.sum.Matched}, {t.Ready, &c.sum.Ready}, {t.Missing, &c.sum.Missing}, {t.Held, &c.sum.Held},
		{t.Stale, &c.sum.Stale}, {t.Unevaluated, &c.sum.Unevaluated}, {t.FailedOpen, &c.sum.FailedOpen}} {
		if f.set {
			*f.n += sign
		}
	}
}

// Summary returns the counts with one stale pod's error and one conflict.
func (c *Counts) Summary() Summary {
	s := c.sum
	c.staleExample = example(c.stale, c.staleExample)
	c.conflictExample = example(c.conflicts, c.conflictExample)
	if t, ok := c.pods[c.staleExample]; ok {
		s.StaleExample = "pod " + c.staleExample.Name + ": " + t.StaleMessage
	}
	if t, ok := c.pods[c.conflictExample]; ok {
		s.Conflict = &Conflict{Pod: c.conflictExample.Name, Winner: t.Winner}
	}
	return s
}

// example keeps the current example while it is in the set, else picks
// any pod of it (the zero key when it is empty).
func example(set map[types.NamespacedName]bool, current types.NamespacedName) types.NamespacedName {
	if set[current] {
		return current
	}
	for pod := range set {
		return pod
	}
	return types.NamespacedName{}
}

func podKey(pod *corev1.Pod) types.NamespacedName {
	return types.NamespacedName{Namespace: pod.Namespace, Name: pod.Name}
}
