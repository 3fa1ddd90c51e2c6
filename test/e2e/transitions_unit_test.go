package e2e_test

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// event is one pod as a watch shows it at a time.
type event struct {
	at       time.Duration
	pod      string
	promoted bool
	gate     corev1.ConditionStatus
}

func (e event) object() *corev1.Pod {
	value := "no"
	if e.promoted {
		value = "yes"
	}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: e.pod, UID: types.UID(e.pod), Labels: map[string]string{"promoted": value}}}
	if e.gate != "" {
		pod.Status.Conditions = []corev1.PodCondition{{Type: gateType, Status: e.gate}}
	}
	return pod
}

// The fault suite's judge must itself be able to fail: each kind of wrong
// transition is caught, and a right history passes.
func TestTransitionChecker(t *testing.T) {
	const lag = 5 * time.Second
	for _, tc := range []struct {
		name   string
		cap    int
		outage *window // offsets from the start, as durations in time.Time
		events []event
		wrong  string // in the report; empty when none
	}{
		{name: "following the expression", cap: -1, events: []event{
			{0, "a", false, ""}, {time.Second, "a", false, corev1.ConditionFalse},
			{2 * time.Second, "a", true, corev1.ConditionFalse}, {3 * time.Second, "a", true, corev1.ConditionTrue},
		}},
		{name: "a spurious flip", cap: -1, wrong: "flipped to False", events: []event{
			{0, "a", true, corev1.ConditionTrue}, {20 * time.Second, "a", true, corev1.ConditionFalse},
		}},
		{name: "a stale True gate", cap: -1, wrong: "has been True", events: []event{
			{0, "a", true, corev1.ConditionTrue}, {time.Second, "a", false, corev1.ConditionTrue},
			{10 * time.Second, "a", false, corev1.ConditionFalse},
		}},
		{name: "a stale True gate during an outage", cap: -1, outage: &window{start: time.Unix(0, 0).Add(time.Second), end: time.Unix(0, 0).Add(9 * time.Second)},
			events: []event{
				{0, "a", true, corev1.ConditionTrue}, {time.Second, "a", false, corev1.ConditionTrue},
				{10 * time.Second, "a", false, corev1.ConditionFalse},
			}},
		{name: "a flip beyond maxUnavailable", cap: 1, wrong: "maxUnavailable 1", events: []event{
			{0, "a", true, corev1.ConditionTrue}, {0, "b", true, corev1.ConditionTrue},
			{time.Second, "a", false, corev1.ConditionTrue}, {time.Second, "b", false, corev1.ConditionTrue},
			{2 * time.Second, "a", false, corev1.ConditionFalse}, {2 * time.Second, "b", false, corev1.ConditionFalse},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newTransitionChecker(promoted, lag, tc.cap)
			start := time.Unix(0, 0)
			if tc.outage != nil {
				c.outages = []window{*tc.outage}
			}
			for _, e := range tc.events {
				c.observe(start.Add(e.at), e.object(), false)
			}
			wrong := strings.Join(c.wrong, "\n")
			switch {
			case tc.wrong == "" && wrong != "":
				t.Errorf("a right history judged wrong:\n%s", wrong)
			case tc.wrong != "" && !strings.Contains(wrong, tc.wrong):
				t.Errorf("want a report of %q, got %q", tc.wrong, wrong)
			}
		})
	}
}
