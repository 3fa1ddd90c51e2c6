package controllers

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
)

// writeBreaker pauses a namespace's condition writes while the API server
// fails them (5xx, 429, timeouts, dropped connections). Each pod retrying
// on its own backoff sent every failing write again within a second (480
// of 60 pods' writes in a brownout's first second, a line of log each), and
// once the API server recovered each pod waited out its own grown backoff.
// While paused, one write per pause probes the API server, the pause
// doubling from 100 ms to 10 s; the other pods wait without writing or
// logging, and are evaluated again as soon as a write goes through. Each
// namespace pauses on its own: a webhook failing one namespace's writes
// pauses no other.
type writeBreaker struct {
	mu         sync.Mutex
	namespaces map[string]*pause
	// evaluate has pods evaluated again: those that waited, once a write
	// goes through; one of them as a pause ends, to probe.
	evaluate func([]types.NamespacedName)
	// refusals backs off, pod by pod, the writes the API server refuses
	// (4xx), for every writer: the pod reconciler and a deleted policy's
	// release alike.
	refusals *writeRefusals
}

// pause is one namespace's: failures counts the probes that failed in a
// row, until is when the next may go, probing since when one is under way,
// and waiting are the pods that did not write meanwhile.
type pause struct {
	failures int
	until    time.Time
	probing  time.Time
	waiting  map[types.NamespacedName]bool
	// ends wakes a waiting pod to probe at until.
	ends *time.Timer
}

// The pause between probes, and how long a probe that neither succeeded
// nor failed (its reconcile wrote nothing after all) holds the next one.
const (
	firstPause = 100 * time.Millisecond
	maxPause   = 10 * time.Second
)

func newWriteBreaker(evaluate func([]types.NamespacedName)) *writeBreaker {
	return &writeBreaker{namespaces: map[string]*pause{}, evaluate: evaluate, refusals: newWriteRefusals()}
}

// errWritesPaused is a write not sent, or failed, while its namespace's
// writes are paused: the pod is evaluated again once they go through, or
// after wait. It is no reconcile error, so that the work queue neither
// logs nor backs it off.
type errWritesPaused struct {
	wait time.Duration
	err  error
}

func (e errWritesPaused) Error() string {
	return fmt.Sprintf("pod condition writes paused for %s: %v", e.wait.Round(time.Millisecond), e.err)
}

func (e errWritesPaused) Unwrap() error { return e.err }

// write writes the condition on the pod unless its namespace's writes are
// paused, or the API server refused the pod's last write and its backoff
// has not ended, and records the outcome: a write not sent, failed while
// they pause, or refused, is errWritesPaused (with no err when not sent).
func (b *writeBreaker) write(ctx context.Context, c client.StatusClient, pod metav1.Object, cond corev1.PodCondition) (string, error) {
	key := types.NamespacedName{Namespace: pod.GetNamespace(), Name: pod.GetName()}
	if wait := b.refusals.waiting(key, pod.GetUID(), time.Now()); wait > 0 {
		return "", errWritesPaused{wait: wait}
	}
	if ok, wait := b.allow(key, time.Now()); !ok {
		return "", errWritesPaused{wait: wait}
	}
	rv, err := writeCondition(ctx, c, pod, cond)
	// A failure is transient or a refusal, never both: one wait at most.
	if wait := max(b.record(ctx, key, err), b.refusals.record(ctx, key, pod.GetUID(), err, time.Now())); wait > 0 {
		return "", errWritesPaused{wait: wait, err: err}
	}
	return rv, err
}

// forgetPod drops what the breaker keeps of a pod that is gone.
func (b *writeBreaker) forgetPod(pod types.NamespacedName) { b.refusals.forget(pod) }

// allow reports whether the pod may write now: always while its namespace's
// writes go through, else as the pause's one probe. A pod that may not
// write waits for the writes to go through, and is told how long the pause
// lasts at most.
func (b *writeBreaker) allow(pod types.NamespacedName, now time.Time) (bool, time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	p := b.namespaces[pod.Namespace]
	if p == nil {
		return true, 0
	}
	if !now.Before(p.until) && (p.probing.IsZero() || now.Sub(p.probing) > maxPause) {
		p.probing = now
		return true, 0
	}
	p.waiting[pod] = true
	return false, max(p.until.Sub(now), 0) + maxPause
}

// done records a write's outcome. Once a write goes through, or the API
// server answers it at all (a refusal, such as a conflict, says it
// serves), the pods that waited are evaluated again, and resumed says how
// many. A write that failed transiently waits with them, for at most wait;
// paused says that this failure paused the namespace's writes, to tell it
// once.
func (b *writeBreaker) done(pod types.NamespacedName, err error, now time.Time) (resumed int, wait time.Duration, paused bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	p := b.namespaces[pod.Namespace]
	if !writeFailedTransiently(err) {
		if p == nil {
			return 0, 0, false
		}
		delete(b.namespaces, pod.Namespace)
		p.ends.Stop()
		resume := make([]types.NamespacedName, 0, len(p.waiting))
		for key := range p.waiting {
			resume = append(resume, key)
		}
		go b.evaluate(resume)
		return len(resume), 0, false
	}
	if p == nil {
		p = &pause{waiting: map[types.NamespacedName]bool{}}
		b.namespaces[pod.Namespace] = p
		paused = true
	}
	p.waiting[pod] = true
	// Writes sent before the pause fail together: only the first and the
	// probes lengthen it.
	if paused || !p.probing.IsZero() {
		p.failures++
		d := jittered(min(firstPause<<min(p.failures-1, 16), maxPause))
		p.until, p.probing = now.Add(d), time.Time{}
		if p.ends != nil {
			p.ends.Stop()
		}
		p.ends = time.AfterFunc(d, func() { b.wake(pod.Namespace) })
	}
	return 0, max(p.until.Sub(now), 0) + maxPause, paused
}

// record records a write's outcome, as done, and says once when the
// namespace's writes pause and when they go through again, rather than a
// line per pod per retry; it returns how long a failed write waits.
func (b *writeBreaker) record(ctx context.Context, pod types.NamespacedName, err error) time.Duration {
	resumed, wait, paused := b.done(pod, err, time.Now())
	if paused {
		log.FromContext(ctx).Error(err, "pausing the namespace's pod condition writes: the API server fails them; one write probes it at a time, from every 100 ms to every 10 s",
			"namespace", pod.Namespace)
	}
	if resumed > 0 {
		log.FromContext(ctx).Info("pod condition writes go through again; evaluating the pods that waited", "namespace", pod.Namespace, "pods", resumed)
	}
	return wait
}

// wake has a waiting pod of the namespace evaluated again to probe, as its
// pause ends.
func (b *writeBreaker) wake(namespace string) {
	b.mu.Lock()
	var next types.NamespacedName
	if p := b.namespaces[namespace]; p != nil {
		for key := range p.waiting {
			next = key
			break
		}
	}
	b.mu.Unlock()
	if next.Name != "" {
		b.evaluate([]types.NamespacedName{next})
	}
}

// jittered spreads the namespaces' probes by up to a fifth of d.
func jittered(d time.Duration) time.Duration {
	return d + rand.N(d/5+1)
}

// writeFailedTransiently reports a write the API server may take a moment
// later: it answered 429 or 5xx, or did not answer. A refusal (4xx) is the
// write's own fault, and another write would fare no better or worse.
func writeFailedTransiently(err error) bool {
	if err == nil {
		return false
	}
	var status apierrors.APIStatus
	if !errors.As(err, &status) {
		return true // no answer: a timeout, a dropped connection
	}
	code := status.Status().Code
	return code == http.StatusTooManyRequests || code == http.StatusRequestTimeout || code >= http.StatusInternalServerError
}
