package policy

import (
	"cmp"
	"fmt"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	utilcache "k8s.io/apimachinery/pkg/util/cache"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/readygate/readygate/api/v1alpha1"
	"github.com/readygate/readygate/internal/cel"
	"github.com/readygate/readygate/internal/gate"
	"github.com/readygate/readygate/internal/sources"
)

// Defaults of the CRD, for objects that did not come through the API server
// (tests, the kubectl plugin's files). They live here and nowhere else.
const (
	DefaultInterval         = 10 * time.Second
	DefaultSuccessThreshold = 1
	DefaultFailureThreshold = 3
)

// DefaultMaxUnavailable is the CRD's default cap.
var DefaultMaxUnavailable = intstr.FromString("25%")

// Compiled is one generation of a policy, compiled once, with every default
// applied: what the reconcilers read instead of the raw spec, so a zero
// threshold or a nil interval can never reach a decision.
type Compiled struct {
	Name, Namespace string
	UID             types.UID
	Generation      int64
	ConditionType   string
	Selector        labels.Selector
	Program         *cel.Program
	Sources         *v1alpha1.Sources
	Settings        gate.Settings
	MaxUnavailable  intstr.IntOrString
	Release         bool // onDelete: Release
	// Err makes the policy unusable (an *InvalidError); no pod is evaluated.
	Err error
}

// Compile validates the policy and compiles its expressions in env. stored
// says the policy is already stored in the cluster: it compiles with the
// environment of stored expressions, so an operator upgrade or downgrade
// never breaks a policy the API server accepted. prometheusURLs, when set, is
// --prometheus-allowed-urls; nil leaves the address to the operator.
func Compile(env *cel.Env, p *v1alpha1.ReadinessGatePolicy, stored bool, prometheusURLs *sources.URLAllowlist) *Compiled {
	c := &Compiled{
		Name: p.Name, Namespace: p.Namespace, UID: p.UID, Generation: p.Generation,
		ConditionType:  p.Spec.ConditionType,
		Sources:        p.Spec.Sources,
		Settings:       settingsOf(p),
		MaxUnavailable: DefaultMaxUnavailable,
		Release:        p.Spec.OnDelete != v1alpha1.OnDeleteRetain,
	}
	if p.Spec.MaxUnavailable != nil {
		c.MaxUnavailable = *p.Spec.MaxUnavailable
	}
	sel, err := metav1.LabelSelectorAsSelector(&p.Spec.Selector)
	if err != nil {
		c.Err = &InvalidError{Reason: v1alpha1.ReasonInvalidSelector, Err: prefixed("spec.selector", err)}
		return c
	}
	c.Selector = sel
	if err := validateSources(p, prometheusURLs); err != nil {
		c.Err = err
		return c
	}
	prog, err := env.Compile(Expressions(p), stored)
	if err != nil {
		c.Err = &InvalidError{Reason: v1alpha1.ReasonInvalidExpression, Err: err}
		return c
	}
	c.Program = prog
	return c
}

// Caps of a selector, checked when a policy's selector is admitted, new or
// changed (a stored one keeps working across an upgrade): the operator
// keeps every policy in memory, and each pod creation in the namespace
// matches its policies' selectors. The API server takes a selector of
// 60,000 values, 1.4 MB; a namespace's hundred such policies would take
// the operator past its memory limit and the pod webhook past its timeout.
const (
	MaxSelectorRequirements = 32
	MaxSelectorValues       = 256
)

// SelectorWithinCaps says which cap a selector passes, if any.
func SelectorWithinCaps(s *metav1.LabelSelector) error {
	if n := len(s.MatchLabels) + len(s.MatchExpressions); n > MaxSelectorRequirements {
		return fmt.Errorf("%d requirements in matchLabels and matchExpressions together, at most %d", n, MaxSelectorRequirements)
	}
	values := 0
	for _, e := range s.MatchExpressions {
		values += len(e.Values)
	}
	if values > MaxSelectorValues {
		return fmt.Errorf("%d values in matchExpressions together, at most %d", values, MaxSelectorValues)
	}
	return nil
}

// settingsOf applies the CRD's defaults to the knobs of one decision.
func settingsOf(p *v1alpha1.ReadinessGatePolicy) gate.Settings {
	s := gate.Settings{
		PolicyName:    p.Name,
		ConditionType: p.Spec.ConditionType,
		Thresholds: gate.Thresholds{
			Success:     p.Spec.SuccessThreshold,
			Failure:     p.Spec.FailureThreshold,
			Interval:    DefaultInterval,
			OnErrorFail: p.Spec.OnError == v1alpha1.OnErrorFail,
		},
		DryRun:    p.Spec.Mode == v1alpha1.ModeDryRun,
		Suspended: p.Spec.Suspend,
	}
	if s.Success < 1 {
		s.Success = DefaultSuccessThreshold
	}
	if s.Failure < 1 {
		s.Failure = DefaultFailureThreshold
	}
	if p.Spec.Interval != nil && p.Spec.Interval.Duration > 0 {
		s.Interval = p.Spec.Interval.Duration
	}
	if failOpenAfter := cmp.Or(p.Spec.FailOpenAfter, p.Spec.Timeout); failOpenAfter != nil {
		s.FailOpenAfter = failOpenAfter.Duration
	}
	return s
}

// Cap is how many of matched pods may have the gate not True at once.
func (c *Compiled) Cap(matched int) int {
	n, err := intstr.GetScaledValueFromIntOrPercent(&c.MaxUnavailable, matched, true)
	if err != nil {
		return 0 // the CRD rejects such values; never take a pod out on one
	}
	return n
}

// Selects reports whether the policy decides pods with these labels in its
// namespace. A policy whose expressions or sources do not compile still
// decides its pods, as errors (their True gates hold); one whose selector
// does not parse, or whose condition type is reserved, decides none.
func (c *Compiled) Selects(namespace string, podLabels map[string]string) bool {
	return c.Selector != nil && namespace == c.Namespace && c.Selector.Matches(labels.Set(podLabels))
}

// ReleasesWithoutEvaluating reports whether the policy's gates are True
// whatever an evaluation says: it is suspended, or in DryRun.
func (c *Compiled) ReleasesWithoutEvaluating() bool {
	return c.Settings.Suspended || c.Settings.DryRun
}

// ReadsOnlyPod reports whether the policy's result can change only with the
// pod: no source and no clock.
func (c *Compiled) ReadsOnlyPod() bool {
	return c.Sources == nil && c.Program != nil && !c.Program.ReadsClock()
}

// Cache holds each live policy compiled for its current generation, so a
// policy compiles once however many pods it gates. Entries go with the
// policy (Forget), so it holds at most one entry per stored policy.
type Cache struct {
	env            *cel.Env
	prometheusURLs sources.URLAllowlist
	reserved       ConditionTypes

	mu      sync.Mutex
	entries map[types.UID]*cacheEntry
	// forgotten are the policies deleted in the last forgetFor: an event
	// or reconcile that read one just before its deletion compiles it
	// without bringing its entry back.
	forgotten *utilcache.Expiring
}

// forgetFor is how long a deleted object's late reads are expected: far
// longer than an event or a reconcile takes.
const forgetFor = time.Minute

type cacheEntry struct {
	once       sync.Once
	generation int64
	compiled   *Compiled
}

// NewCache returns a cache that compiles in env, allows the prometheus
// source only at prometheusURLs, and refuses the reserved condition types.
func NewCache(env *cel.Env, prometheusURLs sources.URLAllowlist, reserved ConditionTypes) *Cache {
	return &Cache{env: env, prometheusURLs: prometheusURLs, reserved: reserved, entries: map[types.UID]*cacheEntry{}, forgotten: utilcache.NewExpiring()}
}

// Reserves reports whether conditionType is another controller's: the
// operator writes no condition of that type, whatever a policy says.
func (c *Cache) Reserves(conditionType string) bool { return c.reserved.Reserves(conditionType) }

// Get returns the stored policy compiled, compiling it when its generation is new.
func (c *Cache) Get(p *v1alpha1.ReadinessGatePolicy) *Compiled {
	c.mu.Lock()
	e, ok := c.entries[p.UID]
	if !ok || e.generation != p.Generation {
		e = &cacheEntry{generation: p.Generation}
		if _, gone := c.forgotten.Get(p.UID); !gone {
			c.entries[p.UID] = e
		}
	}
	c.mu.Unlock()
	e.once.Do(func() { e.compiled = c.compile(p) })
	return e.compiled
}

// compile compiles a stored policy. One for a reserved condition type
// selects nothing, so it writes no pod, not even when suspended or in
// DryRun, which set gates True unevaluated.
func (c *Cache) compile(p *v1alpha1.ReadinessGatePolicy) *Compiled {
	compiled := Compile(c.env, p, true, &c.prometheusURLs)
	if err := c.reserved.Check(p.Spec.ConditionType); err != nil {
		compiled.Err = &InvalidError{Reason: v1alpha1.ReasonConditionTypeReserved, Err: err}
		compiled.Selector = nil
	}
	return compiled
}

// Forget drops a deleted policy.
func (c *Cache) Forget(uid types.UID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.entries, uid)
	c.forgotten.Set(uid, struct{}{}, forgetFor)
}

func prefixed(field string, err error) error {
	return fmt.Errorf("%s: %w", field, err)
}
