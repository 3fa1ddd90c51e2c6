package policy

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/readygate/readygate/api/v1alpha1"
	"github.com/readygate/readygate/internal/gate"
	"github.com/readygate/readygate/internal/podcache"
)

func pointers(pods ...corev1.Pod) []*corev1.Pod {
	out := make([]*corev1.Pod, len(pods))
	for i := range pods {
		out[i] = &pods[i]
	}
	return out
}

// TestCountsFollowPodChanges checks that counts kept pod by pod, as the
// recount keeps them across pod events, equal a count from scratch after
// every change, and that the examples stay put while they hold.
func TestCountsFollowPodChanges(t *testing.T) {
	web := map[string]string{"app": "web"}
	p := pol("p", time.Minute, "x/a", web)
	c := &Compiled{Name: p.Name, Namespace: p.Namespace, UID: p.UID, ConditionType: "x/a", Selector: labels.SelectorFromSet(web)}
	isTrue := corev1.PodCondition{Type: "x/a", Status: corev1.ConditionTrue}
	isFalse := corev1.PodCondition{Type: "x/a", Status: corev1.ConditionFalse}
	stale := map[string]string{}
	stateOf := func(pod metav1.Object) gate.State {
		msg, ok := stale[pod.GetName()]
		return gate.State{Stale: ok, StaleMessage: msg}
	}
	peers := []v1alpha1.ReadinessGatePolicy{p}
	pods := map[string]corev1.Pod{}
	counts := NewCounts()
	change := func(step string, pod corev1.Pod, gone bool) Summary {
		t.Helper()
		if gone {
			delete(pods, pod.Name)
			counts.Set(podKey(&pod), Tally{})
		} else {
			pods[pod.Name] = pod
			counts.Set(podKey(&pod), TallyPod(c, &pod, OwnerAmong(peers, Selects), stateOf))
		}
		all := make([]corev1.Pod, 0, len(pods))
		for _, p := range pods {
			all = append(all, p)
		}
		want := Summarize(c, pointers(all...), peers, Selects, stateOf)
		got := counts.Summary()
		if got.Matched != want.Matched || got.Ready != want.Ready || got.Missing != want.Missing || got.Held != want.Held ||
			got.Stale != want.Stale || got.Unevaluated != want.Unevaluated || (got.StaleExample == "") != (want.StaleExample == "") {
			t.Fatalf("%s: counted %+v, from scratch %+v", step, got, want)
		}
		return got
	}
	change("a ready pod", pod("a", web, []string{"x/a"}, isTrue), false)
	change("an unevaluated pod", pod("b", web, []string{"x/a"}), false)
	change("a pod without the gate", pod("c", web, nil), false)
	change("b turns False", pod("b", web, []string{"x/a"}, isFalse), false)
	// A state change reaches the counts as the pod's own change does.
	stale["a"] = "boom"
	change("a held on stale data", pod("a", web, []string{"x/a"}, isTrue), false)
	stale["b"] = "bang"
	first := change("b held on stale data", pod("b", web, []string{"x/a"}, isTrue), false).StaleExample
	if s := change("c relabelled away", pod("c", map[string]string{"app": "db"}, nil), false); s.StaleExample != first {
		t.Fatalf("the stale example moved from %q to %q while it held", first, s.StaleExample)
	}
	change("a deleted", pod("a", web, nil), true)
	change("b deleted", pod("b", web, nil), true)
	if s := counts.Summary(); s != (Summary{}) {
		t.Fatalf("counts of no pods: %+v", s)
	}
}

// TestTallyLeavesFinishedPodsOut: a Succeeded or Failed pod serves no
// traffic, so it is neither matched (it would hold Ready False for good) nor
// missing its gate (a finished Job's pods would fire
// ReadygatePodsMissingGate until they are deleted).
func TestTallyLeavesFinishedPodsOut(t *testing.T) {
	web := map[string]string{"app": "web"}
	p := pol("p", time.Minute, "x/a", web)
	c := &Compiled{Name: p.Name, Namespace: p.Namespace, UID: p.UID, ConditionType: "x/a", Selector: labels.SelectorFromSet(web)}
	ungated := func(phase corev1.PodPhase) metav1.Object {
		m := pod("job", web, nil)
		return &podcache.Ungated{PartialObjectMetadata: metav1.PartialObjectMetadata{ObjectMeta: m.ObjectMeta}, Phase: phase}
	}
	gated := func(phase corev1.PodPhase) metav1.Object {
		g := pod("web", web, []string{"x/a"}, corev1.PodCondition{Type: "x/a", Status: corev1.ConditionFalse})
		g.Status.Phase = phase
		return &g
	}
	for _, tc := range []struct {
		name string
		pod  metav1.Object
		want Tally
	}{
		{"gated, running", gated(corev1.PodRunning), Tally{Matched: true}},
		{"gated, succeeded", gated(corev1.PodSucceeded), Tally{}},
		{"gated, failed", gated(corev1.PodFailed), Tally{}},
		{"ungated, running", ungated(corev1.PodRunning), Tally{Missing: true}},
		{"ungated, succeeded", ungated(corev1.PodSucceeded), Tally{}},
		{"ungated, failed", ungated(corev1.PodFailed), Tally{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := TallyPod(c, tc.pod, OwnerAmong([]v1alpha1.ReadinessGatePolicy{p}, Selects), func(metav1.Object) gate.State { return gate.State{} })
			if got != tc.want {
				t.Errorf("tally %+v, want %+v", got, tc.want)
			}
		})
	}
}
