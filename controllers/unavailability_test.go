package controllers

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

// An admitted flip is given back only when its write certainly changed
// nothing: after an answer lost in transit the write may have landed, and
// giving its room to another pod before the cache shows it would take more
// pods out than maxUnavailable allows.
func TestWriteRejected(t *testing.T) {
	pods := schema.GroupResource{Resource: "pods"}
	cases := []struct {
		name string
		err  error
		want bool
	}{
		{"a conflict, as a UID precondition fails", apierrors.NewConflict(pods, "web-0", errors.New("uid")), true},
		{"an invalid patch", apierrors.NewInvalid(schema.GroupKind{Kind: "Pod"}, "web-0", nil), true},
		{"forbidden", apierrors.NewForbidden(pods, "web-0", errors.New("rbac")), true},
		{"throttled before it was handled", apierrors.NewTooManyRequests("slow down", 1), true},
		{"wrapped", fmt.Errorf("writing: %w", apierrors.NewConflict(pods, "web-0", errors.New("uid"))), true},
		{"the server timed out, perhaps after committing", apierrors.NewTimeoutError("etcd", 1), false},
		{"a request timeout", apierrors.NewGenericServerResponse(408, "PATCH", pods, "web-0", "", 0, true), false},
		{"an internal error", apierrors.NewInternalError(errors.New("boom")), false},
		{"the service unavailable", apierrors.NewServiceUnavailable("restarting"), false},
		{"the connection dropped", &url.Error{Op: "Patch", URL: "https://api/pods/web-0", Err: errors.New("connection reset by peer")}, false},
		{"the reconcile cancelled", context.Canceled, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := writeRejected(tc.err); got != tc.want {
				t.Fatalf("writeRejected(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}

// A flip whose write got no answer keeps its room; when the pod's next
// evaluation asks again, that room is its own and not counted against it,
// but the pods down meanwhile are: the retry is counted afresh.
func TestTakeCountsAPodsRetryAfresh(t *testing.T) {
	web0 := types.NamespacedName{Namespace: "shop", Name: "web-0"}
	web1 := types.NamespacedName{Namespace: "shop", Name: "web-1"}
	now := time.Now()
	for _, tc := range []struct {
		name string
		down map[types.NamespacedName]bool
		cap  int
		want bool
	}{
		{"its own admission alone, cap 1", map[types.NamespacedName]bool{}, 1, true},
		{"another pod down in the cache meanwhile, cap 1", map[types.NamespacedName]bool{web1: true}, 1, false},
		{"another pod down in the cache meanwhile, cap 2", map[types.NamespacedName]bool{web1: true}, 2, true},
		{"the cap set to 0 meanwhile", map[types.NamespacedName]bool{}, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := newUnavailability(nil)
			u.admitted["p1"] = map[types.NamespacedName]admission{web0: {at: now.Add(-30 * time.Second)}}
			if got := u.take("p1", web0, tc.down, tc.cap, now); got != tc.want {
				t.Fatalf("take = %v, want %v", got, tc.want)
			}
			if tc.want && !u.admitted["p1"][web0].at.Equal(now) {
				t.Fatal("the retry did not renew the admission")
			}
		})
	}
}

// A flip whose write landed counts until the cache shows the version it
// made, however late: a watch down for over a minute under an API server
// fault must not let more pods go False than the cap. One whose write got
// no answer counts for admittedFor.
func TestAdmittedFlipCountsUntilTheCacheShowsIt(t *testing.T) {
	web0 := types.NamespacedName{Namespace: "shop", Name: "web-0"}
	web1 := types.NamespacedName{Namespace: "shop", Name: "web-1"}
	cached := func(rv string) *corev1.Pod {
		pod := fullPod("x/a")
		pod.Name, pod.ResourceVersion = web0.Name, rv
		pod.Status.Conditions = []corev1.PodCondition{{Type: "x/a", Status: corev1.ConditionTrue}}
		return pod
	}
	now := time.Now()
	u := newUnavailability(nil)
	if !u.take("p1", web0, map[types.NamespacedName]bool{}, 1, now) {
		t.Fatal("the first flip was refused")
	}
	u.wrote("p1", web0, "100")
	later := now.Add(2 * admittedFor)
	u.observe(cached("99"))
	if u.take("p1", web1, map[types.NamespacedName]bool{}, 1, later) {
		t.Fatal("a landed flip the cache does not show yet stopped counting after a while")
	}
	u.observe(cached("100"))
	if !u.take("p1", web1, map[types.NamespacedName]bool{}, 1, later) {
		t.Fatal("the cache shows the flip's version (True again), and its room was not given back")
	}
	for name, leaving := range map[string]func(*corev1.Pod){
		"evicted":  func(p *corev1.Pod) { p.Status.Phase = corev1.PodFailed },
		"deleting": func(p *corev1.Pod) { p.DeletionTimestamp = &metav1.Time{Time: now} },
	} {
		u := newUnavailability(nil)
		u.take("p1", web0, map[types.NamespacedName]bool{}, 1, now)
		u.wrote("p1", web0, "100")
		pod := cached("99") // the flip's own version coalesced away: the next the cache shows is the pod leaving
		leaving(pod)
		u.observe(pod)
		if !u.take("p1", web1, map[types.NamespacedName]bool{}, 1, later) {
			t.Fatalf("a pod %s after its admitted flip kept its room under the cap for good", name)
		}
	}
	incomparable := newUnavailability(nil)
	incomparable.take("p1", web0, map[types.NamespacedName]bool{}, 1, now)
	incomparable.wrote("p1", web0, "100")
	incomparable.observe(cached("not-a-number"))
	if !incomparable.take("p1", web1, map[types.NamespacedName]bool{}, 1, later) {
		t.Fatal("a flip whose version cannot be compared with the cache's kept its room for good")
	}
	unanswered := newUnavailability(nil)
	unanswered.take("p1", web0, map[types.NamespacedName]bool{}, 1, now)
	if unanswered.take("p1", web1, map[types.NamespacedName]bool{}, 1, now.Add(admittedFor/2)) ||
		!unanswered.take("p1", web1, map[types.NamespacedName]bool{}, 1, now.Add(admittedFor+time.Second)) {
		t.Fatal("a flip whose write got no answer stopped counting before admittedFor, or kept counting after")
	}
}

// A finished pod serves no traffic: its gate, False or not, takes no room
// under maxUnavailable (nor needs a release), and an ungated pod has no gate.
func TestUnreadyGatesLeaveFinishedAndUngatedPodsOut(t *testing.T) {
	for _, tc := range []struct {
		name  string
		phase corev1.PodPhase
		want  []string
	}{
		{"running", corev1.PodRunning, []string{"x/a"}},
		{"succeeded", corev1.PodSucceeded, nil},
		{"failed", corev1.PodFailed, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pod := fullPod("x/a", "x/b")
			pod.Status.Phase = tc.phase
			pod.Status.Conditions = []corev1.PodCondition{{Type: "x/a", Status: corev1.ConditionFalse}, {Type: "x/b", Status: corev1.ConditionTrue}}
			if got := unreadyGates(cached(t, pod)); !slices.Equal(got, tc.want) {
				t.Errorf("unreadyGates = %v, want %v", got, tc.want)
			}
		})
	}
	if got := unreadyGates(cached(t, fullPod())); got != nil {
		t.Errorf("an ungated pod's entry is indexed under %v", got)
	}
}
