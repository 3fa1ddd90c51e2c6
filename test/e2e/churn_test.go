package e2e_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/readygate/readygate/api/v1alpha1"
)

const (
	churnPods    = 1000
	churnTime    = 2 * time.Minute
	churnWorkers = 4
	// churnPause spaces each worker's operations: at most 80 a second in
	// all, most of what this shared machine's API server takes besides
	// the operator's own writes.
	churnPause = 50 * time.Millisecond
	// settleTime bounds how long 1,000 gates take to match their
	// expressions after seeding or churn, on this machine.
	settleTime = 5 * time.Minute
	// goroutineSlack: the operator's goroutines are its workers (fixed by
	// flags), informers and connections, none per pod; a leak per churned
	// pod (thousands were deleted) would be far beyond this.
	goroutineSlack = 25
	// heapGrowth: after the churn the operator holds as many pods as before
	// (churnPods), so its heap in use must come back to about where it was.
	// The Go heap between two GC cycles varies by up to GOGC (100%) of the
	// live heap, so the sample is taken at its low point over sampleTime; 25%
	// catches retained objects of the thousands of deleted pods (a cached
	// pod is several KiB) but not small per-pod bookkeeping.
	heapGrowth = 1.25
)

// churn seeds churnPods gated pods, churns them (create, delete, relabel)
// for churnTime, and checks every transition, the end state, and the
// operator's goroutines and heap against their levels before the churn.
func churn(ctx SpecContext, r *replica) {
	const ns = "fault-churn"
	createFaultNamespace(ctx, ns)
	checker := newTransitionChecker(promoted, transitionLag, -1)
	watchTransitions(ns, checker)
	all := intstr.FromString("100%")
	Expect(k8s.Create(ctx, hostilePolicy(ns, "churn", promotedExpression, func(p *v1alpha1.ReadinessGatePolicy) {
		p.Spec.MaxUnavailable = &all
	}))).To(Succeed())
	Eventually(r.leading).Should(BeTrue())

	By(fmt.Sprintf("seeding %d pods", churnPods))
	pods := &podSet{}
	var next atomic.Int64
	parallel(churnWorkers, func() {
		for i := next.Add(1); i <= churnPods; i = next.Add(1) {
			name := fmt.Sprintf("seed-%d", i)
			Expect(createGatedPod(ctx, ns, name, "churn", i%2 == 0)).To(Succeed())
			pods.add(name)
		}
	})
	Eventually(gatesMatch(ctx, ns)).WithTimeout(settleTime).Should(Succeed())
	metricsURL := "http://" + r.metricsAddr + "/metrics"
	runtimeMetrics := []string{"go_goroutines", "go_memstats_heap_inuse_bytes"}
	before := lowest(metricsURL, runtimeMetrics...)
	goroutinesBefore, heapBefore := before[0], before[1]

	By(fmt.Sprintf("churning for %s", churnTime))
	var ops churnOps
	churning, stop := context.WithTimeout(ctx, churnTime)
	defer stop()
	parallel(churnWorkers, func() { churnWorker(ctx, churning, ns, pods, &next, &ops) })
	churned := time.Now()
	Eventually(gatesMatch(ctx, ns)).WithTimeout(settleTime).Should(Succeed(), "OPERATOR BUG: gates do not match their expression after the churn")
	settled := time.Since(churned)
	after := lowest(metricsURL, runtimeMetrics...)
	goroutinesAfter, heapAfter := after[0], after[1]
	transitions, wrong := checker.verdict()

	report := fmt.Sprintf("churn: %d pods, %s: %d creates, %d deletes, %d relabels (%d failed); gates matched %s after; "+
		"%d transitions watched, %d wrong, slowest follow %s; goroutines %.0f -> %.0f; heap in use %.1f -> %.1f MiB",
		churnPods, churnTime, ops.creates.Load(), ops.deletes.Load(), ops.relabels.Load(), ops.failed.Load(), settled.Round(time.Second),
		transitions, len(wrong), checker.slowestFollow().Round(time.Millisecond),
		goroutinesBefore, goroutinesAfter, heapBefore/(1<<20), heapAfter/(1<<20))
	AddReportEntry("churn", report)
	GinkgoWriter.Println(report)
	Expect(wrong).To(BeEmpty(), "OPERATOR BUG: wrong gate transitions")
	Expect(ops.failed.Load()).To(BeZero(), "churn operations the API server refused, the last: %v", ops.lastErr.Load())
	Expect(goroutinesAfter).To(BeNumerically("<=", goroutinesBefore+goroutineSlack), "OPERATOR BUG: goroutines grew over the churn")
	Expect(heapAfter).To(BeNumerically("<=", heapBefore*heapGrowth), "OPERATOR BUG: the heap in use grew over the churn")
}

// churnOps counts what the churn did.
type churnOps struct {
	creates, deletes, relabels, failed atomic.Int64
	lastErr                            atomic.Value
}

// churnWorker, until churning ends, deletes a random pod and creates
// another in its place, or flips a random pod's promoted label. The
// operations themselves run under ctx, so none is cut short by the end.
func churnWorker(ctx, churning context.Context, ns string, pods *podSet, next *atomic.Int64, ops *churnOps) {
	for churning.Err() == nil {
		name := pods.random()
		if rand.IntN(2) == 0 {
			if pods.remove(name) {
				pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
				ops.count(&ops.deletes, k8s.Delete(ctx, pod, client.GracePeriodSeconds(0)))
				created := fmt.Sprintf("churn-%d", next.Add(1))
				if ops.count(&ops.creates, createGatedPod(ctx, ns, created, "churn", rand.IntN(2) == 0)) {
					pods.add(created)
				}
			}
		} else {
			value := "yes"
			if rand.IntN(2) == 0 {
				value = "no"
			}
			ops.count(&ops.relabels, setPromoted(ctx, ns, name, value))
		}
		select {
		case <-churning.Done():
		case <-time.After(churnPause):
		}
	}
}

// count counts an operation that succeeded, or one that failed, keeping
// the last error, and reports whether it succeeded.
func (ops *churnOps) count(counter *atomic.Int64, err error) bool {
	if err != nil {
		ops.failed.Add(1)
		ops.lastErr.Store(err)
		return false
	}
	counter.Add(1)
	return true
}

// sampleTime is how long lowest samples: a few GC cycles of a busy operator.
const sampleTime = 30 * time.Second

// lowest is the lowest value of each metric over sampleTime: the Go heap
// and goroutines breathe with GC cycles and in-flight work.
func lowest(url string, metrics ...string) []float64 {
	low := make([]float64, len(metrics))
	for i := range low {
		low[i] = math.Inf(1)
	}
	for deadline := time.Now().Add(sampleTime); time.Now().Before(deadline); time.Sleep(time.Second) { // sampling, not waiting
		for i, m := range metrics {
			v, err := scrape(url, m)
			Expect(err).NotTo(HaveOccurred())
			low[i] = min(low[i], v)
		}
	}
	return low
}

// podSet is the churn's pods, by name.
type podSet struct {
	mu    sync.Mutex
	names []string
	index map[string]int
}

func (s *podSet) add(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.index == nil {
		s.index = map[string]int{}
	}
	s.index[name] = len(s.names)
	s.names = append(s.names, name)
}

func (s *podSet) remove(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	i, ok := s.index[name]
	if !ok {
		return false
	}
	last := s.names[len(s.names)-1]
	s.names[i], s.index[last] = last, i
	s.names = s.names[:len(s.names)-1]
	delete(s.index, name)
	return true
}

func (s *podSet) random() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.names[rand.IntN(len(s.names))]
}

// parallel runs work on n goroutines and waits for them.
func parallel(n int, work func()) {
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			defer GinkgoRecover()
			work()
		})
	}
	wg.Wait()
}
