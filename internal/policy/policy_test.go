package policy

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"

	"github.com/readygate/readygate/api/v1alpha1"
	"github.com/readygate/readygate/internal/cel"
	"github.com/readygate/readygate/internal/gate"
	"github.com/readygate/readygate/internal/sources"
)

var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func pol(name string, age time.Duration, ct string, match map[string]string) v1alpha1.ReadinessGatePolicy {
	return v1alpha1.ReadinessGatePolicy{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", UID: types.UID(name), CreationTimestamp: metav1.NewTime(t0.Add(-age))},
		Spec:       v1alpha1.ReadinessGatePolicySpec{ConditionType: ct, Selector: metav1.LabelSelector{MatchLabels: match}},
	}
}

func pod(name string, lbls map[string]string, gates []string, conds ...corev1.PodCondition) corev1.Pod {
	p := corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", Labels: lbls}, Status: corev1.PodStatus{Conditions: conds}}
	for _, g := range gates {
		p.Spec.ReadinessGates = append(p.Spec.ReadinessGates, corev1.PodReadinessGate{ConditionType: corev1.PodConditionType(g)})
	}
	return p
}

func TestOwner(t *testing.T) {
	web := map[string]string{"app": "web"}
	old, young, other := pol("old", time.Hour, "x/a", web), pol("young", time.Minute, "x/a", web), pol("other", 2*time.Hour, "x/b", web)
	tieA, tieB := pol("a", time.Hour, "x/a", web), pol("b", time.Hour, "x/a", web)
	deleting := pol("deleting", 3*time.Hour, "x/a", web)
	deleting.DeletionTimestamp = &metav1.Time{Time: t0}
	elsewhere := pol("elsewhere", 5*time.Hour, "x/a", web)
	elsewhere.Namespace = "other"
	p := pod("p", web, nil)
	cases := []struct {
		name     string
		policies []v1alpha1.ReadinessGatePolicy
		want     string
	}{
		{"the older policy wins", []v1alpha1.ReadinessGatePolicy{young, old, other}, "old"},
		{"the name breaks a tie", []v1alpha1.ReadinessGatePolicy{tieB, tieA}, "a"},
		{"a policy being deleted owns nothing", []v1alpha1.ReadinessGatePolicy{deleting, young}, "young"},
		{"a policy of another namespace owns nothing", []v1alpha1.ReadinessGatePolicy{elsewhere, young}, "young"},
		{"no policy selects the pod", []v1alpha1.ReadinessGatePolicy{pol("db", time.Hour, "x/a", map[string]string{"app": "db"})}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := ""
			if o := Owner(tc.policies, &p, "x/a", Selects); o != nil {
				got = o.Name
			}
			if got != tc.want {
				t.Fatalf("owner %q, want %q", got, tc.want)
			}
		})
	}
}

func TestReleasedOnDelete(t *testing.T) {
	web := map[string]string{"app": "web"}
	deleting := func(name string, onDelete v1alpha1.OnDeletePolicy, match map[string]string) v1alpha1.ReadinessGatePolicy {
		p := pol(name, time.Hour, "x/a", match)
		p.DeletionTimestamp, p.Spec.OnDelete = &metav1.Time{Time: t0}, onDelete
		return p
	}
	p := pod("p", web, []string{"x/a"})
	cases := []struct {
		name     string
		policies []v1alpha1.ReadinessGatePolicy
		want     bool
	}{
		{"a policy deleted with Release", []v1alpha1.ReadinessGatePolicy{deleting("l", v1alpha1.OnDeleteRelease, web)}, true},
		{"a policy deleted with the default", []v1alpha1.ReadinessGatePolicy{deleting("l", "", web)}, true},
		{"a policy deleted with Retain", []v1alpha1.ReadinessGatePolicy{deleting("r", v1alpha1.OnDeleteRetain, web)}, false},
		{"a live policy", []v1alpha1.ReadinessGatePolicy{pol("l", time.Hour, "x/a", web)}, false},
		{"a Release policy that did not select the pod, deleted with a Retain one that did", []v1alpha1.ReadinessGatePolicy{
			deleting("l", v1alpha1.OnDeleteRelease, map[string]string{"app": "db"}), deleting("r", v1alpha1.OnDeleteRetain, web)}, false},
		{"a Release policy that selects the pod no more (relabelled before the deletion was seen)", []v1alpha1.ReadinessGatePolicy{
			deleting("l", v1alpha1.OnDeleteRelease, map[string]string{"app": "quarantined"})}, true},
		{"a Retain policy that selects the pod no more", []v1alpha1.ReadinessGatePolicy{
			deleting("r", v1alpha1.OnDeleteRetain, map[string]string{"app": "quarantined"})}, false},
		{"Release and Retain policies that select the pod no more", []v1alpha1.ReadinessGatePolicy{
			deleting("l", v1alpha1.OnDeleteRelease, map[string]string{"app": "db"}), deleting("r", v1alpha1.OnDeleteRetain, map[string]string{"app": "api"})}, false},
		{"a policy of another type deleted with Release", []v1alpha1.ReadinessGatePolicy{func() v1alpha1.ReadinessGatePolicy {
			p := deleting("l", v1alpha1.OnDeleteRelease, web)
			p.Spec.ConditionType = "x/b"
			return p
		}()}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := ReleasedOnDelete(tc.policies, &p, "x/a", Selects).Releases(); got != tc.want {
				t.Fatalf("ReleasedOnDelete = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestAcceptedMessageFitsACondition(t *testing.T) {
	p := pol("p", time.Minute, "x/a", map[string]string{"app": "web"})
	msg := Conditions(&p, errors.New(strings.Repeat("é", 40000)), Summary{})[0].Message
	if len(msg) > 32768 || !utf8.ValidString(msg) {
		t.Fatalf("a compile error became a message of %d bytes (valid UTF-8: %v): the API server refuses the whole status", len(msg), utf8.ValidString(msg))
	}
}

// A pod a Retain policy kept False is not released because a Release
// policy of its condition type, which never selected it, is deleted after:
// the Retain policy, deleted earlier, still decides it.
func TestOnDeleteVerdictThen(t *testing.T) {
	releasing := OnDeleteVerdict{Released: true}                  // being deleted, does not select the pod
	retainedIt := OnDeleteVerdict{Selected: true, Retained: true} // deleted lately, selected the pod
	for _, tc := range []struct {
		name            string
		deleting, after OnDeleteVerdict
		want            bool
	}{
		{"a Release policy that selects the pod no more, alone", releasing, OnDeleteVerdict{}, true},
		{"a Retain policy deleted lately selected the pod", releasing, retainedIt, false},
		{"a Retain policy deleted lately selected other pods", releasing, OnDeleteVerdict{Retained: true}, false},
		{"the policy being deleted selects it with Release, over an older Retain", OnDeleteVerdict{Selected: true, Release: true, Released: true}, retainedIt, true},
		{"nothing deleted", OnDeleteVerdict{}, OnDeleteVerdict{}, false},
	} {
		if got := tc.deleting.Then(tc.after).Releases(); got != tc.want {
			t.Errorf("%s: Releases = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestSummarizeAndConditions(t *testing.T) {
	web := map[string]string{"app": "web"}
	p := pol("p", time.Minute, "x/a", web)
	p.Generation = 4
	isTrue := corev1.PodCondition{Type: "x/a", Status: corev1.ConditionTrue}
	timedOut := corev1.PodCondition{Type: "x/a", Status: corev1.ConditionTrue, Reason: v1alpha1.ReasonTimedOut}
	pods := pointers(
		pod("ready", web, []string{"x/a"}, isTrue),
		pod("failed-open", web, []string{"x/a"}, timedOut),
		pod("waiting", web, []string{"x/a"}),
		pod("ungated", web, nil),
		pod("unselected", map[string]string{"app": "db"}, []string{"x/a"}, isTrue),
	)
	c := &Compiled{Name: p.Name, Namespace: p.Namespace, UID: p.UID, ConditionType: "x/a", Selector: labels.SelectorFromSet(web)}
	held := func(pod metav1.Object) gate.State { return gate.State{FlipHeld: pod.GetName() == "ready"} }
	s := Summarize(c, pods, []v1alpha1.ReadinessGatePolicy{p}, Selects, held)
	if s != (Summary{Matched: 3, Ready: 2, Missing: 1, Held: 1, Unevaluated: 1, FailedOpen: 1}) {
		t.Fatalf("summary %+v", s)
	}
	conds := Conditions(&p, nil, s)
	want := map[string]string{v1alpha1.ConditionAccepted: "True/Compiled", v1alpha1.ConditionProgressing: "True/PodsNotReady", v1alpha1.ConditionReady: "False/PodsNotReady",
		v1alpha1.ConditionReconciling: "True/EvaluatingPods", v1alpha1.ConditionStalled: "False/Working"}
	for _, c := range conds {
		if got := string(c.Status) + "/" + c.Reason; got != want[c.Type] || c.ObservedGeneration != 4 {
			t.Errorf("%s = %s (generation %d), want %s", c.Type, got, c.ObservedGeneration, want[c.Type])
		}
	}

	older := pol("older", time.Hour, "x/a", web)
	s = Summarize(c, pods, []v1alpha1.ReadinessGatePolicy{p, older}, Selects, held)
	if s.Conflict == nil || s.Conflict.Winner != "older" || s.Matched != 0 {
		t.Fatalf("conflict not found: %+v", s)
	}
	if conds := Conditions(&p, nil, s); conds[0].Reason != v1alpha1.ReasonConflict || conds[0].Status != metav1.ConditionFalse ||
		conds[4].Status != metav1.ConditionTrue || conds[4].Reason != v1alpha1.ReasonConflict {
		t.Fatalf("accepted %+v, stalled %+v", conds[0], conds[4])
	}

	compileErr := &cel.CompileError{Errors: []cel.FieldError{{Field: "spec.expression", Detail: "boom"}}}
	if c := Conditions(&p, compileErr, Summary{})[0]; c.Reason != v1alpha1.ReasonInvalidExpression || c.Message != "spec.expression: boom" {
		t.Fatalf("accepted %+v", c)
	}
	// A broken policy's pods get their condition as errors, not evaluated.
	if c := Conditions(&p, compileErr, Summary{Matched: 2, Unevaluated: 2})[3]; c.Status != metav1.ConditionFalse ||
		c.Reason != v1alpha1.ReasonInvalidExpression || !strings.Contains(c.Message, "until the policy compiles") {
		t.Fatalf("reconciling %+v", c)
	}
	if c := Conditions(&p, errors.New("spec.selector: bad"), Summary{})[0]; c.Reason != v1alpha1.ReasonInvalidSelector {
		t.Fatalf("accepted %+v", c)
	}
	if c := Conditions(&p, nil, Summary{})[2]; c.Reason != v1alpha1.ReasonNoPods {
		t.Fatalf("ready %+v", c)
	}
}

func TestNamespaceInjects(t *testing.T) {
	enabled := map[string]string{InjectKey: InjectEnabled}
	cases := []struct {
		name, namespace string
		labels          map[string]string
		want            bool
	}{
		{"a labelled namespace", "shop", enabled, true},
		{"an unlabelled namespace", "shop", nil, false},
		{"another label value", "shop", map[string]string{InjectKey: "true"}, false},
		{"kube-system whatever its labels", "kube-system", enabled, false},
		{"the operator's namespace whatever its labels", "readygate-system", enabled, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := NamespaceInjects(tc.namespace, tc.labels, "readygate-system"); got != tc.want {
				t.Fatalf("NamespaceInjects(%q, %v) = %v, want %v", tc.namespace, tc.labels, got, tc.want)
			}
		})
	}
}

// Only the pod's own endpoint failing is a verdict on the pod; readygate's
// own shared budgets being full is not, even for the pod's http or metrics.
func TestSourceFailed(t *testing.T) {
	for _, tc := range []struct {
		source string
		err    error
		want   gate.Outcome
	}{
		{cel.VarHTTP, errors.New("connection refused"), gate.OutcomeUnreachable},
		{cel.VarMetrics, errors.New("status 500"), gate.OutcomeUnreachable},
		{cel.VarPrometheus, errors.New("connection refused"), gate.OutcomeSourceUnavailable},
		{cel.VarHTTP, fmt.Errorf("the answer keeps 10 bytes: %w", sources.ErrOverloaded), gate.OutcomeSourceUnavailable},
		{cel.VarMetrics, fmt.Errorf("the answer keeps 10 bytes: %w", sources.ErrOverloaded), gate.OutcomeSourceUnavailable},
		{cel.VarMetrics, fmt.Errorf("the fetch panicked: %w", sources.ErrNoVerdict), gate.OutcomeSourceUnavailable},
	} {
		if got := SourceFailed(tc.source, tc.err); got.Outcome != tc.want {
			t.Errorf("%s: %v: outcome %v, want %v", tc.source, tc.err, got.Outcome, tc.want)
		}
	}
}

// A policy whose expressions do not compile still decides its pods (as
// errors: True gates hold, failOpenAfter applies); without a selector, none.
func TestCompiledSelects(t *testing.T) {
	sel := labels.SelectorFromSet(labels.Set{"app": "web"})
	broken := errors.New("does not compile")
	for _, tc := range []struct {
		name string
		c    Compiled
		want bool
	}{
		{"valid", Compiled{Namespace: "ns", Selector: sel}, true},
		{"another namespace", Compiled{Namespace: "other", Selector: sel}, false},
		{"invalid", Compiled{Namespace: "ns", Selector: sel, Err: broken}, true},
		{"invalid, suspended", Compiled{Namespace: "ns", Selector: sel, Err: broken, Settings: gate.Settings{Suspended: true}}, true},
		{"invalid, DryRun", Compiled{Namespace: "ns", Selector: sel, Err: broken, Settings: gate.Settings{DryRun: true}}, true},
		{"no selector", Compiled{Namespace: "ns", Err: broken}, false},
		{"no selector, suspended", Compiled{Namespace: "ns", Err: broken, Settings: gate.Settings{Suspended: true}}, false},
	} {
		if got := tc.c.Selects("ns", map[string]string{"app": "web"}); got != tc.want {
			t.Errorf("%s: Selects = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// A deleted policy's late events (a pod reconcile that listed it just
// before, the pod controller's delete event) must not bring back the entry
// its deletion dropped: a tenant creating and deleting policies in a loop
// would pile up compiled environments.
func TestCacheKeepsAForgottenPolicyForgotten(t *testing.T) {
	env, err := cel.NewEnv(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := NewCache(env, nil, nil)
	p := pol("gone", time.Minute, "x/a", map[string]string{"app": "web"})
	p.Spec.Expression = "true"
	if got := c.Get(&p); got.Err != nil {
		t.Fatal(got.Err)
	}
	c.Forget(p.UID)
	if got := c.Get(&p); got.Err != nil || got.Name != "gone" {
		t.Fatalf("a late Get of a forgotten policy: %+v", got)
	}
	if n := c.Len(); n != 0 {
		t.Fatalf("%d entries after the policy was forgotten and read late, want 0", n)
	}
}

// Owners finds each condition type's owner as Owner does, matching each
// policy's selector once.
func TestOwnersMatchEachSelectorOnce(t *testing.T) {
	web := map[string]string{"app": "web"}
	policies := []v1alpha1.ReadinessGatePolicy{
		pol("young", time.Minute, "x/a", web),
		pol("old", time.Hour, "x/a", web),
		pol("other", time.Hour, "x/a", map[string]string{"app": "db"}),
		pol("b", time.Minute, "x/b", web),
		pol("deleting", 2*time.Hour, "x/b", web),
	}
	policies[4].DeletionTimestamp = &metav1.Time{Time: t0}
	pod := &metav1.ObjectMeta{Namespace: "ns", Labels: web}
	matches := 0
	counted := func(p *v1alpha1.ReadinessGatePolicy, pod metav1.Object) bool {
		matches++
		return Selects(p, pod)
	}
	owners := Owners(policies, pod, counted)
	for _, ct := range []string{"x/a", "x/b", "x/c"} {
		if got, want := owners[ct], Owner(policies, pod, ct, Selects); got != want {
			t.Errorf("%s: Owners says %v, Owner %v", ct, got, want)
		}
	}
	if matches > len(policies) {
		t.Errorf("%d selector matches for %d policies", matches, len(policies))
	}
}
