package controllers

import (
	"context"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/log"
)

// writeRefusals backs off the pods whose condition writes the API server
// refuses (4xx: an administrator's admission policy or webhook on
// pods/status, a missing RBAC rule, an invalid write). Returned as
// reconcile errors, each refusal was a line of log, and the pods' polled
// sources, which evaluate them again past the work queue's backoff, had
// each pod send a refused write and log it every interval (780 of each in
// 10 s for 50 pods). A refused pod is evaluated on, but writes again only
// once its backoff ends; the refusals are counted in
// readygate_errors_total{kind="write"} and told in one line per namespace
// per refusalLogPeriod.
type writeRefusals struct {
	mu   sync.Mutex
	pods map[types.NamespacedName]*refusal
	// namespaces tells each namespace's refusals.
	namespaces map[string]*refusalLine
}

// refusal is a pod's: the refusals in a row, and when it may write again.
// A pod of the same name with another uid is another pod, not backed off.
type refusal struct {
	uid      types.UID
	refusals int
	until    time.Time
}

// refusalLine is a namespace's: when its last line was logged, the
// refusals since, and its pods backed off, to forget it with the last.
type refusalLine struct {
	at    time.Time
	since int
	pods  int
}

// A refused pod's wait doubles from firstRefusalWait: an admission rule
// lifted a moment later costs little. It stops at maxRefusalWait, so that
// gates converge within it once the administrator fixes the rule, while
// 10,000 refused pods send about 80 writes a second.
const (
	firstRefusalWait = time.Second
	maxRefusalWait   = 2 * time.Minute
	// refusalLogPeriod is how often a namespace's refusals are told at most.
	refusalLogPeriod = time.Minute
)

func newWriteRefusals() *writeRefusals {
	return &writeRefusals{pods: map[types.NamespacedName]*refusal{}, namespaces: map[string]*refusalLine{}}
}

// waiting is how long the pod waits before writing again; 0 when it may write.
func (w *writeRefusals) waiting(pod types.NamespacedName, uid types.UID, now time.Time) time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	r := w.pods[pod]
	if r == nil || r.uid != uid {
		return 0
	}
	return max(r.until.Sub(now), 0)
}

// record records a write's outcome and returns how long a refused pod
// waits before writing again: 0 for any other outcome, which ends the
// pod's backoff.
func (w *writeRefusals) record(ctx context.Context, pod types.NamespacedName, uid types.UID, err error, now time.Time) time.Duration {
	if !writeRefused(err) {
		w.forget(pod)
		return 0
	}
	wait, count := w.refused(pod, uid, now)
	// The reconcile's logger names the namespace, and the pod refused.
	if count > 0 {
		log.FromContext(ctx).Error(err, "the API server refuses pod condition writes; each refused pod writes again after a wait doubling from 1 s to 2 min, counted in readygate_errors_total{kind=\"write\"}",
			"refusals", count, "period", refusalLogPeriod)
	}
	return wait
}

// refused backs the pod off, and returns the namespace's refusals since its
// last line when it is time for another: 0 when not.
func (w *writeRefusals) refused(pod types.NamespacedName, uid types.UID, now time.Time) (time.Duration, int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	line := w.namespaces[pod.Namespace]
	if line == nil {
		line = &refusalLine{}
		w.namespaces[pod.Namespace] = line
	}
	r := w.pods[pod]
	if r == nil {
		line.pods++
	}
	if r == nil || r.uid != uid {
		r = &refusal{uid: uid}
		w.pods[pod] = r
	}
	r.refusals++
	wait := jittered(min(firstRefusalWait<<min(r.refusals-1, 16), maxRefusalWait))
	r.until = now.Add(wait)
	line.since++
	if !line.at.IsZero() && now.Sub(line.at) < refusalLogPeriod {
		return wait, 0
	}
	count := line.since
	line.at, line.since = now, 0
	return wait, count
}

// forget ends the pod's backoff: it wrote, or is gone. The namespace's
// line is forgotten with its last refused pod: its next refusal, after a
// write went through, is told at once.
func (w *writeRefusals) forget(pod types.NamespacedName) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, ok := w.pods[pod]; !ok {
		return
	}
	delete(w.pods, pod)
	line := w.namespaces[pod.Namespace]
	line.pods--
	if line.pods == 0 {
		delete(w.namespaces, pod.Namespace)
	}
}

// writeRefused reports a refusal that another write of the pod, sent at
// once, would meet again. A conflict is not one: the pod was replaced
// (the write's uid precondition), and its new self's event comes.
func writeRefused(err error) bool {
	return writeRejected(err) && !writeFailedTransiently(err) && !apierrors.IsConflict(err)
}
