package controllers

import (
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/readygate/readygate/api/v1alpha1"
	"github.com/readygate/readygate/internal/gate"
)

// Each Event folds into what was told of its pod under its policy; an
// Event that relates to no policy tells nothing.
func TestFoldTold(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	policy := func(uid types.UID) *corev1.ObjectReference {
		return &corev1.ObjectReference{Kind: policyKind.Kind, APIVersion: policyKind.GroupVersion().String(), Namespace: "shop", UID: uid}
	}
	event := func(reason string, related *corev1.ObjectReference, at time.Time, series *eventsv1.EventSeries) eventsv1.Event {
		return eventsv1.Event{ObjectMeta: metav1.ObjectMeta{Namespace: "shop"}, Reason: reason, EventTime: metav1.NewMicroTime(at), Series: series, Related: related,
			Regarding: corev1.ObjectReference{Kind: "Pod", Namespace: "shop", Name: "web-0", UID: "pod"}}
	}
	// The API server takes an Event in any namespace about an object in
	// any other: a tenant who may create Events in its own namespace could
	// otherwise silence another namespace's pod after a failover.
	elsewhere := event(gate.EventFlipDeferred, policy("a"), t0, nil)
	elsewhere.Namespace = "tenant"
	otherPolicy := policy("a")
	otherPolicy.Namespace = "tenant"
	cases := []struct {
		name   string
		events []eventsv1.Event
		want   map[types.UID]gate.Told
	}{
		{name: "a hold", events: []eventsv1.Event{event(gate.EventFlipDeferred, policy("a"), t0, nil)},
			want: map[types.UID]gate.Told{"a": {Held: t0}}},
		{name: "a hold told again in a series, at its last occurrence",
			events: []eventsv1.Event{event(gate.EventFlipDeferred, policy("a"), t0, &eventsv1.EventSeries{Count: 2, LastObservedTime: metav1.NewMicroTime(t0.Add(time.Hour))})},
			want:   map[types.UID]gate.Told{"a": {Held: t0.Add(time.Hour)}}},
		{name: "two Events under one policy merge",
			events: []eventsv1.Event{event(gate.EventFlipDeferred, policy("a"), t0, nil), event(gate.EventMissingGate, policy("a"), t0, nil)},
			want:   map[types.UID]gate.Told{"a": {Held: t0, MissingGate: true}}},
		{name: "two policies apart",
			events: []eventsv1.Event{event(gate.EventFlipDeferred, policy("a"), t0, nil), event(gate.EventMissingGate, policy("b"), t0, nil)},
			want:   map[types.UID]gate.Told{"a": {Held: t0}, "b": {MissingGate: true}}},
		{name: "an Event related to no policy tells nothing",
			events: []eventsv1.Event{event(gate.EventMissingGate, nil, t0, nil), event(gate.EventMissingGate, &corev1.ObjectReference{Kind: "Deployment", APIVersion: "apps/v1", UID: "a"}, t0, nil)}},
		{name: "an Event of another reason tells nothing", events: []eventsv1.Event{event(v1alpha1.ReasonEvaluationError, policy("a"), t0, nil)}},
		{name: "an Event in another namespace than its pod's tells nothing", events: []eventsv1.Event{elsewhere}},
		{name: "an Event related to another namespace's policy tells nothing", events: []eventsv1.Event{event(gate.EventMissingGate, otherPolicy, t0, nil)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			told, keys := map[types.UID]toldOfPod{}, map[types.UID]types.NamespacedName{}
			for i := range tc.events {
				foldTold(told, keys, &tc.events[i])
			}
			if len(told["pod"]) != len(tc.want) {
				t.Fatalf("told %+v, want %+v", told["pod"], tc.want)
			}
			for uid, want := range tc.want {
				if got := told["pod"].of(uid); got != want {
					t.Fatalf("told under %s %+v, want %+v", uid, got, want)
				}
			}
			if len(tc.want) > 0 && keys["pod"] != (types.NamespacedName{Namespace: "shop", Name: "web-0"}) {
				t.Fatalf("pod named %v", keys["pod"])
			}
		})
	}
}

// A pod's share is taken once the Events are read, once, and the memory
// goes with the last share.
func TestToldTakenOnce(t *testing.T) {
	told := &toldEvents{ready: make(chan struct{}), told: map[types.UID]toldOfPod{
		"a": {{policy: "p", told: gate.Told{MissingGate: true}}},
		"b": {{policy: "p", told: gate.Told{MissingGate: true}}},
	}}
	if got, read := told.take("a"); read || got != nil {
		t.Fatalf("a take before the Events were read gave %+v, read %v; want nothing, unread", got, read)
	}
	close(told.ready)
	if got, read := told.take("a"); !read || !got.of("p").MissingGate {
		t.Fatalf("a's first take %+v (read %v), want its missing gate", got, read)
	}
	if got, read := told.take("a"); !read || got != nil {
		t.Fatalf("a's second take %+v (read %v), want nothing", got, read)
	}
	told.forget("b")
	if told.told != nil {
		t.Fatalf("%d pods kept after every share was taken", len(told.told))
	}
}

// Anyone who may create Events in a namespace can relate them to any number
// of made-up policies: a pod keeps no more than a namespace's policies, so
// neither the fold nor the memory grows with them.
func TestFoldToldKeepsAtMostANamespacesPolicies(t *testing.T) {
	told, keys := map[types.UID]toldOfPod{}, map[types.UID]types.NamespacedName{}
	for i := range 10 * maxToldPolicies {
		e := eventsv1.Event{ObjectMeta: metav1.ObjectMeta{Namespace: "shop"}, Reason: gate.EventMissingGate,
			Related:   &corev1.ObjectReference{Kind: policyKind.Kind, APIVersion: policyKind.GroupVersion().String(), Namespace: "shop", UID: types.UID(fmt.Sprint(i))},
			Regarding: corev1.ObjectReference{Kind: "Pod", Namespace: "shop", Name: "web-0", UID: "pod"}}
		foldTold(told, keys, &e)
	}
	if got := len(told["pod"]); got != maxToldPolicies {
		t.Fatalf("a pod kept %d policies' Events, want %d", got, maxToldPolicies)
	}
}
