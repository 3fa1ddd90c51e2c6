package e2e_test

import (
	"context"
	"fmt"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	toolscache "k8s.io/client-go/tools/cache"
)

// window is a fault's outage: from start until end (zero while it lasts).
type window struct{ start, end time.Time }

// truthChange is when the watch saw a pod's expression become value.
type truthChange struct {
	at    time.Time
	value bool
}

// podTrack is what the watch has seen of one pod.
type podTrack struct {
	name      string
	truths    []truthChange
	gate      corev1.ConditionStatus // "" before the operator wrote it
	gateSince time.Time
	flagged   bool // a stale episode already reported
}

func (p *podTrack) truth() bool { return p.truths[len(p.truths)-1].value }

// transitionChecker judges, from a watch of every pod of a namespace, each
// transition of the pods' gate condition against the expression's truth
// at that time, which it computes from the labels the same watch shows.
//
// "Wrong" means: (1) a flip to a status the expression did not have at any
// moment of the allowed lag before it (a spurious flip, e.g. a restarted
// operator writing False over a true expression); (2) a gate that stays
// opposite to its expression for longer than the allowed lag (a True gate
// while the expression is false, or a stuck False one); (3) a True-to-False
// flip while cap or more of the pods' gates were already not True (beyond
// maxUnavailable). The allowed lag is lag plus the part of a fault's outage
// within the interval: the operator going down leaves conditions as they
// are (design rule 8). With a cap, a True gate over a false expression may
// be held by it, so (2) then judges only stuck False gates.
type transitionChecker struct {
	expression func(labels map[string]string) bool
	lag        time.Duration
	cap        int // -1: no maxUnavailable to check

	mu          sync.Mutex
	pods        map[types.UID]*podTrack
	outages     []window
	transitions int
	wrong       []string
	// slowest is the longest a right flip came after its expression changed.
	slowest time.Duration
}

func newTransitionChecker(expression func(map[string]string) bool, lag time.Duration, cap int) *transitionChecker {
	return &transitionChecker{expression: expression, lag: lag, cap: cap, pods: map[types.UID]*podTrack{}}
}

// outageBegins and outageEnds bracket a fault's outage.
func (c *transitionChecker) outageBegins(at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.outages = append(c.outages, window{start: at})
}

func (c *transitionChecker) outageEnds(at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.outages[len(c.outages)-1].end = at
}

// allowed is the lag allowed for a mismatch from since to at.
func (c *transitionChecker) allowed(since, at time.Time) time.Duration {
	allow := c.lag
	for _, w := range c.outages {
		end := w.end
		if end.IsZero() {
			end = at
		}
		if from, to := maxTime(w.start, since), minTime(end, at); to.After(from) {
			allow += to.Sub(from)
		}
	}
	return allow
}

// observe takes one watch event of a pod, at the time it arrived.
func (c *transitionChecker) observe(at time.Time, pod *corev1.Pod, deleted bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.pods[pod.UID]
	if deleted {
		delete(c.pods, pod.UID)
		return
	}
	truth := c.expression(pod.Labels)
	if p == nil {
		p = &podTrack{name: pod.Name, truths: []truthChange{{at, truth}}, gateSince: at}
		c.pods[pod.UID] = p
	} else if truth != p.truth() {
		p.truths = append(p.truths, truthChange{at, truth})
		p.flagged = false
	}
	c.checkStale(at, p)
	gate := gateStatus(pod)
	if gate == p.gate {
		return
	}
	c.transitions++
	if gate != "" && (gate == corev1.ConditionTrue) == truth {
		c.slowest = max(c.slowest, at.Sub(p.truths[len(p.truths)-1].at))
	}
	if gate != "" && !c.hadTruth(p, gate == corev1.ConditionTrue, at) {
		c.wrongf("%s flipped to %s at %s, but its expression was %t throughout the %s before",
			p.name, gate, at.Format(time.StampMilli), gate != corev1.ConditionTrue, c.allowed(at, at))
	}
	if c.cap >= 0 && p.gate == corev1.ConditionTrue && gate == corev1.ConditionFalse {
		if unavailable := c.unavailable(); unavailable >= c.cap {
			c.wrongf("%s flipped False at %s while %d gates were already not True (maxUnavailable %d)",
				p.name, at.Format(time.StampMilli), unavailable, c.cap)
		}
	}
	p.gate, p.gateSince, p.flagged = gate, at, false
}

// hadTruth reports whether the expression was want at some moment of the
// allowed lag before at.
func (c *transitionChecker) hadTruth(p *podTrack, want bool, at time.Time) bool {
	from := at.Add(-c.allowed(at, at))
	for i, t := range p.truths {
		until := at
		if i+1 < len(p.truths) {
			until = p.truths[i+1].at
		}
		if t.value == want && !t.at.After(at) && !until.Before(from) {
			return true
		}
	}
	return false
}

// checkStale reports a gate that has been opposite to its expression for
// longer than the allowed lag.
func (c *transitionChecker) checkStale(at time.Time, p *podTrack) {
	if p.flagged || p.gate == "" || (p.gate == corev1.ConditionTrue) == p.truth() {
		return
	}
	if p.gate == corev1.ConditionTrue && c.cap >= 0 {
		return // may be held by maxUnavailable
	}
	since := maxTime(p.truths[len(p.truths)-1].at, p.gateSince)
	if mismatch := at.Sub(since); mismatch > c.allowed(since, at) {
		p.flagged = true
		c.wrongf("%s has been %s since %s while its expression is %t (%s, more than the allowed lag)",
			p.name, p.gate, since.Format(time.StampMilli), p.truth(), mismatch.Round(time.Millisecond))
	}
}

// unavailable counts the pods whose gate is written and not True.
func (c *transitionChecker) unavailable() int {
	n := 0
	for _, p := range c.pods {
		if p.gate != "" && p.gate != corev1.ConditionTrue {
			n++
		}
	}
	return n
}

func (c *transitionChecker) wrongf(format string, args ...any) {
	c.wrong = append(c.wrong, fmt.Sprintf(format, args...))
}

// verdict checks every pod for staleness now and returns the transitions
// seen and the wrong ones.
func (c *transitionChecker) verdict() (transitions int, wrong []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	for _, p := range c.pods {
		c.checkStale(now, p)
	}
	return c.transitions, append([]string(nil), c.wrong...)
}

func (c *transitionChecker) slowestFollow() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.slowest
}

// watchTransitions feeds c every event of the pods of ns until the spec
// ends. A client-go informer resumes its watch from the last version it saw
// when the API server restarts, so no transition is lost (etcd keeps them).
func watchTransitions(ns string, c *transitionChecker) {
	clientset, err := kubernetes.NewForConfig(cp.Config)
	Expect(err).NotTo(HaveOccurred())
	lw := toolscache.NewFilteredListWatchFromClient(clientset.CoreV1().RESTClient(), "pods", ns, func(*metav1.ListOptions) {})
	informer := toolscache.NewSharedIndexInformer(lw, &corev1.Pod{}, 0, toolscache.Indexers{})
	_, err = informer.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { c.observe(time.Now(), obj.(*corev1.Pod), false) },
		UpdateFunc: func(_, obj any) { c.observe(time.Now(), obj.(*corev1.Pod), false) },
		DeleteFunc: func(obj any) {
			if tomb, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
				obj = tomb.Obj
			}
			if pod, ok := obj.(*corev1.Pod); ok {
				c.observe(time.Now(), pod, true)
			}
		},
	})
	Expect(err).NotTo(HaveOccurred())
	ctx, cancel := context.WithCancel(context.Background())
	DeferCleanup(cancel)
	go informer.RunWithContext(ctx)
	Eventually(informer.HasSynced).Should(BeTrue())
}

func gateStatus(pod *corev1.Pod) corev1.ConditionStatus {
	for _, cond := range pod.Status.Conditions {
		if cond.Type == gateType {
			return cond.Status
		}
	}
	return ""
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
