package main

import (
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// tracker timestamps, from the watch, when pods first carry a condition and
// when a watched pod's condition flips.
type tracker struct {
	mu      sync.Mutex
	first   map[string]map[string]time.Time // condition type -> pod -> first seen
	running map[string]bool
	status  map[string]corev1.ConditionStatus // "pod/type" -> last status
	flips   chan flip
	last    time.Time // the latest pod event
	// label is each pod's flip label as the watch last showed it, and
	// relabelled when the watch showed it change: the pod event a flip is
	// timed from.
	label      map[string]string
	relabelled map[string]time.Time
}

type flip struct {
	pod, conditionType string
	status             corev1.ConditionStatus
	at                 time.Time
}

func newTracker() *tracker {
	return &tracker{first: map[string]map[string]time.Time{}, running: map[string]bool{},
		status: map[string]corev1.ConditionStatus{}, flips: make(chan flip, 1024),
		label: map[string]string{}, relabelled: map[string]time.Time{}}
}

func (t *tracker) observe(p *corev1.Pod) {
	now := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.last = now
	if v := p.Labels[flipLabel]; v != t.label[p.Name] {
		t.label[p.Name], t.relabelled[p.Name] = v, now
	}
	for _, c := range p.Status.Conditions {
		ct := string(c.Type)
		if t.first[ct] == nil {
			t.first[ct] = map[string]time.Time{}
		}
		if _, ok := t.first[ct][p.Name]; !ok {
			t.first[ct][p.Name] = now
		}
		key := p.Name + "/" + ct
		if prev, ok := t.status[key]; ok && prev != c.Status && (ct == flipGate || ct == baselineGate) {
			select {
			case t.flips <- flip{pod: p.Name, conditionType: ct, status: c.Status, at: now}:
			default:
			}
		}
		t.status[key] = c.Status
	}
	if p.Status.Phase == corev1.PodRunning {
		t.running[p.Name] = true
	}
}

// labelSeen is when the watch showed the pod's flip label change to value,
// if it shows it at that value now.
func (t *tracker) labelSeen(pod, value string) (time.Time, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.relabelled[pod], t.label[pod] == value
}

// count is how many pods carry the condition type.
func (t *tracker) count(ct string) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.first[ct])
}

// quietFor reports whether no pod changed for d.
func (t *tracker) quietFor(d time.Duration) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return time.Since(t.last) >= d
}

func (t *tracker) runningCount() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.running)
}

// Every wait of the harness is bounded by waitTimeout, or by perPodWait for
// each pod of the cluster when that is longer: at 50,000 pods on two
// loaded cores the simulator alone needs more than ten minutes to run them.
const (
	waitTimeout = 10 * time.Minute
	perPodWait  = 30 * time.Millisecond
)

// waitFor polls cond until it holds, the wait's bound passes, or the
// operator (once started) exits.
func (c *cluster) waitFor(what string, cond func() bool) error {
	bound := max(waitTimeout, time.Duration(c.pods)*perPodWait)
	deadline := time.Now().Add(bound)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %s waiting for %s", bound, what)
		}
		select {
		case <-c.managerDone: // nil, and so never ready, before the operator starts
			return fmt.Errorf("the operator exited while waiting for %s", what)
		case <-time.After(5 * time.Millisecond):
		}
	}
	return nil
}

// lastSeen is when the last of the pods first carried the condition.
func (t *tracker) lastSeen(ct string) time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	var last time.Time
	for _, at := range t.first[ct] {
		if at.After(last) {
			last = at
		}
	}
	return last
}
