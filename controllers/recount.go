package controllers

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	utilcache "k8s.io/apimachinery/pkg/util/cache"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/readygate/readygate/api/v1alpha1"
	"github.com/readygate/readygate/internal/podcache"
	"github.com/readygate/readygate/internal/policy"
)

// recounts keep every policy's pod counts between recounts. A pod event
// marks the pod dirty under its namespace's policies, and the next recount
// tallies the dirty pods only: the status follows a rollout of N pods at a
// cost of N tallies, not N for every pod event. A policy counts all its pods
// again only when it or a peer of its namespace changes (which changes
// selection and ownership), and after a restart.
type recounts struct {
	mu       sync.Mutex
	policies map[types.NamespacedName]*policyCounts
	// owners are the pods' owners found lately, shared by the policies of
	// their namespace.
	owners *utilcache.Expiring
}

// ownersKey names the owners found for a pod among its namespace's
// policies as they stood (peersBasis).
type ownersKey struct {
	peers string
	pod   types.NamespacedName
}

// podOwners are the owners found for a pod with these labels.
type podOwners struct {
	labels map[string]string
	owners map[string]*v1alpha1.ReadinessGatePolicy
}

// ownersFor is how long a pod's owners are kept: longer than the
// recounts of a namespace's policies that one pod event or policy change
// sets off take together (statusCoalescing, then as many recounts as the
// namespace has policies). Each recount looked for the owner among all the
// policies: a pod event cost a tenant's 100 policies of one type at the
// selector caps 10,000 selector matches (14 ms) in the policy workers every
// namespace shares, and a change of any of them that many per pod.
const ownersFor = 10 * time.Second

// policyCounts is one policy's counts. Only the policy's reconcile, which
// the work queue runs one at a time per policy, reads or changes counts and
// basis; dirty is filled by pod events and state changes meanwhile.
type policyCounts struct {
	mu    sync.Mutex
	dirty map[types.NamespacedName]bool

	basis  string
	counts *policy.Counts
	// matched is the pods the last count matched, -1 before the first:
	// the base of maxUnavailable, which must not wait for the status write
	// that an API server failing writes holds back.
	matched atomic.Int32
}

func newRecounts() *recounts {
	return &recounts{policies: map[types.NamespacedName]*policyCounts{}, owners: utilcache.NewExpiring()}
}

func (r *recounts) of(p types.NamespacedName) *policyCounts {
	r.mu.Lock()
	defer r.mu.Unlock()
	pc := r.policies[p]
	if pc == nil {
		pc = &policyCounts{dirty: map[types.NamespacedName]bool{}}
		pc.matched.Store(-1)
		r.policies[p] = pc
	}
	return pc
}

// matchedOr returns the pods the policy matched at its last count, or
// status, what its status says, before its first count.
func (r *recounts) matchedOr(p types.NamespacedName, status int32) int {
	r.mu.Lock()
	pc := r.policies[p]
	r.mu.Unlock()
	if pc != nil {
		if m := pc.matched.Load(); m >= 0 {
			return int(m)
		}
	}
	return int(status)
}

// markPod notes that the pod may count differently under the policy.
func (r *recounts) markPod(p, pod types.NamespacedName) {
	pc := r.of(p)
	pc.mu.Lock()
	pc.dirty[pod] = true
	pc.mu.Unlock()
}

// forget drops a deleted policy's counts.
func (r *recounts) forget(p types.NamespacedName) {
	r.mu.Lock()
	delete(r.policies, p)
	r.mu.Unlock()
}

// takeDirty empties the dirty set and returns what it held; pod events
// after this mark their pods again for the next recount.
func (pc *policyCounts) takeDirty() map[types.NamespacedName]bool {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	dirty := pc.dirty
	pc.dirty = map[types.NamespacedName]bool{}
	return dirty
}

// owner returns the policy that decides conditionType on the pod among
// peers, whose basis is peersBasis, finding the owners of all its
// condition types once for all the policies that tally the pod.
func (r *recounts) owner(peersBasis string, peers []v1alpha1.ReadinessGatePolicy, selects policy.SelectsFunc, pod metav1.Object, conditionType string) *v1alpha1.ReadinessGatePolicy {
	key := ownersKey{peers: peersBasis, pod: types.NamespacedName{Namespace: pod.GetNamespace(), Name: pod.GetName()}}
	if v, ok := r.owners.Get(key); ok && maps.Equal(v.(podOwners).labels, pod.GetLabels()) {
		return v.(podOwners).owners[conditionType]
	}
	owners := policy.Owners(peers, pod, selects)
	r.owners.Set(key, podOwners{labels: pod.GetLabels(), owners: owners}, ownersFor)
	return owners[conditionType]
}

// summarize brings the policy's counts up to date and returns its summary;
// peersBasis names its namespace's policies (peersBasisOf).
func (r *recounts) summarize(p *v1alpha1.ReadinessGatePolicy, c *policy.Compiled, peersBasis string,
	pods *podcache.Index, tally func(metav1.Object) policy.Tally) (s policy.Summary, err error) {
	start := time.Now()
	defer func() { recountSeconds.Observe(time.Since(start).Seconds()) }()
	pc := r.of(policyKey(p))
	defer func() {
		if err == nil {
			pc.matched.Store(s.Matched)
		}
	}()
	dirty := pc.takeDirty()
	if c.Err != nil || c.Selector == nil {
		pc.basis, pc.counts = "", nil
		return policy.Summary{}, nil
	}
	if basis := basisOf(p, peersBasis); pc.counts == nil || pc.basis != basis {
		all, err := pods.Selected(c.Namespace, c.Selector)
		if err != nil {
			return policy.Summary{}, err
		}
		pc.basis, pc.counts = basis, policy.NewCounts()
		for _, pod := range all {
			pc.counts.Set(types.NamespacedName{Namespace: pod.GetNamespace(), Name: pod.GetName()}, tally(pod))
		}
		recountPods.Add(float64(len(all)))
		return pc.counts.Summary(), nil
	}
	for key := range dirty {
		t := policy.Tally{}
		if pod, ok := pods.Get(key); ok {
			t = tally(pod)
		}
		pc.counts.Set(key, t)
	}
	recountPods.Add(float64(len(dirty)))
	return pc.counts.Summary(), nil
}

// basisOf names what every pod's tally depends on besides the pod: the
// policy's generation and its namespace's policies (ownership).
func basisOf(p *v1alpha1.ReadinessGatePolicy, peersBasis string) string {
	return fmt.Sprintf("%s/%d;%s", p.UID, p.Generation, peersBasis)
}

// peersBasisOf names the namespace's policies as ownership depends on them.
func peersBasisOf(peers []v1alpha1.ReadinessGatePolicy) string {
	parts := make([]string, 0, len(peers))
	for i := range peers {
		peer := &peers[i]
		parts = append(parts, fmt.Sprintf("%s/%d/%t", peer.UID, peer.Generation, peer.DeletionTimestamp != nil))
	}
	slices.Sort(parts)
	return strings.Join(parts, ",")
}

func policyKey(p *v1alpha1.ReadinessGatePolicy) types.NamespacedName {
	return types.NamespacedName{Namespace: p.Namespace, Name: p.Name}
}

// The recount's cost, which docs/scaling.md and the benchmark report.
var (
	recountPods = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "readygate_policy_recount_pods_total",
		Help: "Pods tallied by policy recounts: the dirty pods of a recount, or all the policy's pods when it or a peer changed.",
	})
	recountSeconds = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "readygate_policy_recount_duration_seconds",
		Help:    "Time to bring one policy's pod counts up to date.",
		Buckets: []float64{1e-5, 1e-4, 1e-3, 5e-3, 2e-2, 0.1, 0.5},
	})
)

func init() {
	metrics.Registry.MustRegister(recountPods, recountSeconds)
}
