package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/readygate/readygate/api/v1alpha1"
	"github.com/readygate/readygate/internal/testenv"
)

const (
	baselineGate = "bench.readygate.io/baseline"
	// afterGate is the raw loop's second run, after the operator's.
	afterGate = "bench.readygate.io/baseline-after"
	flipGate  = "bench.readygate.io/flip"
	// flipLabel is the label the flip policy's expression reads.
	flipLabel   = "flip"
	httpGate    = "bench.readygate.io/http"
	metricsGate = "bench.readygate.io/metrics"
)

// sizeResult holds the figures measured with N gated pods, and Ungated
// pods that no policy selects beside them.
type sizeResult struct {
	N, Ungated int
	// Baseline is the mean of the raw loop's runs before and after the
	// operator's: whichever runs second does so on a cluster with the
	// first's writes in its history, and was measured to take longer.
	Baseline, BaselineBefore, BaselineAfter, Converge time.Duration
	// FlipP50 and FlipP99 time a flip from the pod event (the watch
	// showing the label change) to the watch showing the condition: the
	// operator's part. FlipFromWriteP50 and FlipFromWriteP99 time it from
	// the harness's label write instead, adding that write's own latency.
	FlipP50, FlipP99                   time.Duration
	FlipFromWriteP50, FlipFromWriteP99 time.Duration
	Flips                              int
	// RawWriteP50 and RawWriteP99 time one condition write by a bare
	// client to the watch event that shows it: the floor under a flip,
	// which takes two writes (the label, then the condition).
	RawWriteP50, RawWriteP99 time.Duration
	WritesPerPodMinute       float64 // by the operator
	// AllWritesPerPodMinute counts every writer the apiserver saw.
	AllWritesPerPodMinute float64
	SteadyWindow          time.Duration
	// PeakRSSBytes is the operator's high-water mark over the whole run;
	// AnonBytes, the part of RSS that is not the binary's mapped pages;
	// LiveHeapBytes, the heap the last collection found alive: what the
	// operator needs, where the rest is the collector's headroom.
	RSSBytes, PeakRSSBytes, AnonBytes, HeapBytes, LiveHeapBytes float64
	// RecountMean is the mean time of a policy recount over the run;
	// TalliedPerFlip, the pods the recounts tallied per flip.
	RecountMean    time.Duration
	TalliedPerFlip float64
	// ConvergePatchesPerPod is the operator's PATCHes (pod conditions and
	// policy status) per pod from the policy's creation until the cluster
	// settled: 1 when no condition is written twice.
	ConvergePatchesPerPod float64
	// LoadBefore, LoadConverge and LoadAfter are what the raw loop's first
	// run, the operator's and the raw loop's second cost the API server,
	// etcd and each process, until the cluster settled.
	LoadBefore, LoadConverge, LoadAfter load
	// Load is the machine's load average (1, 5, 15 min) at the end.
	Load string
}

// pods is every pod of the scenario.
func (r sizeResult) pods() int { return r.N + r.Ungated }

// label names the scenario in the report.
func (r sizeResult) label() string {
	if r.Ungated == 0 {
		return fmt.Sprintf("N=%d", r.N)
	}
	return fmt.Sprintf("N=%d + %d ungated", r.N, r.Ungated)
}

func (r sizeResult) ratio() float64 { return r.Converge.Seconds() / r.Baseline.Seconds() }

// runSize measures convergence, flip latency, steady-state writes and memory
// with n gated pods, and ungated pods that no policy selects, in a fresh
// cluster.
func runSize(ctx context.Context, root, manager string, n, ungated, flips int, steady time.Duration) (sizeResult, error) {
	res := sizeResult{N: n, Ungated: ungated}
	c, err := newCluster(ctx, root)
	if err != nil {
		return res, err
	}
	defer c.stop()
	logf("%s: creating pods", res.label())
	if err := c.createPods(ctx, n, []string{baselineGate, flipGate, afterGate}, nil); err != nil {
		return res, err
	}
	if err := c.createUngatedPods(ctx, ungated); err != nil {
		return res, err
	}
	if err := c.waitFor("pods running", func() bool { return c.tracker.runningCount() == n+ungated }); err != nil {
		return res, err
	}
	if err := c.startOperator(manager); err != nil {
		return res, err
	}

	// Each run starts and ends on a quiet cluster: the simulator updates
	// every pod's Ready message after a gate's write, and that work counts
	// in the run's load.
	logf("N=%d: baseline before", n)
	if res.LoadBefore, err = c.measuredRun(ctx, func() (err error) {
		res.BaselineBefore, err = c.baseline(ctx, n, baselineGate)
		return err
	}); err != nil {
		return res, err
	}

	logf("N=%d: converge", n)
	patches0, err := c.operatorMetric("rest_client_requests_total", `method="PATCH"`)
	if err != nil {
		return res, err
	}
	if res.LoadConverge, err = c.measuredRun(ctx, func() error {
		start := time.Now()
		if err := c.k8s.Create(ctx, flipPolicy()); err != nil {
			return err
		}
		if err := c.waitFor("every pod to carry the condition", func() bool { return c.tracker.count(flipGate) == n }); err != nil {
			return err
		}
		res.Converge = c.tracker.lastSeen(flipGate).Sub(start)
		return nil
	}); err != nil {
		return res, err
	}
	patches1, err := c.operatorMetric("rest_client_requests_total", `method="PATCH"`)
	if err != nil {
		return res, err
	}
	res.ConvergePatchesPerPod = (patches1 - patches0) / float64(n)
	logf("N=%d: baseline after", n)
	if res.LoadAfter, err = c.measuredRun(ctx, func() (err error) {
		res.BaselineAfter, err = c.baseline(ctx, n, afterGate)
		return err
	}); err != nil {
		return res, err
	}
	res.Baseline = (res.BaselineBefore + res.BaselineAfter) / 2
	// Let the simulator's Ready updates and the policy status settle.
	if err := c.waitFor("every pod Ready", func() bool { return c.readyPods(ctx) == n+ungated }); err != nil {
		return res, err
	}

	logf("N=%d: flip latency", n)
	tallied0, err := c.operatorMetric("readygate_policy_recount_pods_total")
	if err != nil {
		return res, err
	}
	fromEvent, fromWrite, err := c.flipLatencies(ctx, min(flips/2, n))
	if err != nil {
		return res, err
	}
	// The last flips' recounts come statusCoalescing after them.
	time.Sleep(time.Second)
	tallied1, err := c.operatorMetric("readygate_policy_recount_pods_total")
	if err != nil {
		return res, err
	}
	res.Flips = len(fromEvent)
	res.TalliedPerFlip = (tallied1 - tallied0) / float64(len(fromEvent))
	res.FlipP50, res.FlipP99 = percentile(fromEvent, 0.50), percentile(fromEvent, 0.99)
	res.FlipFromWriteP50, res.FlipFromWriteP99 = percentile(fromWrite, 0.50), percentile(fromWrite, 0.99)
	raw, err := c.rawWriteLatencies(ctx, min(flips/2, n))
	if err != nil {
		return res, err
	}
	res.RawWriteP50, res.RawWriteP99 = percentile(raw, 0.50), percentile(raw, 0.99)

	logf("N=%d: steady state for %s", n, steady)
	res.SteadyWindow = steady
	opWrites, apiWrites, err := c.countWrites(ctx, steady)
	if err != nil {
		return res, err
	}
	res.WritesPerPodMinute = opWrites / float64(n) / steady.Minutes()
	res.AllWritesPerPodMinute = apiWrites / float64(n) / steady.Minutes()

	if res.RSSBytes, err = c.operatorStatus("VmRSS:"); err != nil {
		return res, err
	}
	if res.PeakRSSBytes, err = c.operatorStatus("VmHWM:"); err != nil {
		return res, err
	}
	if res.AnonBytes, err = c.operatorStatus("RssAnon:"); err != nil {
		return res, err
	}
	if res.RecountMean, err = c.recountMean(); err != nil {
		return res, err
	}
	res.Load = loadAverage()
	if hold, err := time.ParseDuration(os.Getenv("BENCH_HOLD")); err == nil {
		logf("N=%d: holding for %s (profile the operator now)", n, hold)
		time.Sleep(hold)
	}
	if res.LiveHeapBytes, err = c.operatorMetric("go_gc_heap_live_bytes"); err != nil {
		return res, err
	}
	res.HeapBytes, err = c.operatorMetric("go_memstats_heap_inuse_bytes")
	return res, err
}

// flipPolicy gates every bench pod on a label the flip scenario toggles.
func flipPolicy() *v1alpha1.ReadinessGatePolicy {
	all := intstr.FromString("100%")
	return &v1alpha1.ReadinessGatePolicy{
		ObjectMeta: metav1.ObjectMeta{Name: benchNamespace, Namespace: benchNamespace},
		Spec: v1alpha1.ReadinessGatePolicySpec{
			Selector:         metav1.LabelSelector{MatchLabels: benchLabels},
			ConditionType:    flipGate,
			Expression:       "pod.metadata.labels.?flip.orValue('off') != 'on'",
			FailureThreshold: 1,
			MaxUnavailable:   &all,
		},
	}
}

// baselineWorkers is enough parallelism for the raw loop to hit the client's
// rate limit rather than round trips.
const baselineWorkers = 64

// baseline times the raw loop (rawloop.go) on the condition type, from
// its start to the watch showing the last pod's condition.
func (c *cluster) baseline(ctx context.Context, n int, gate string) (time.Duration, error) {
	start, err := c.startRawLoop(ctx, n, gate)
	if err != nil {
		return 0, err
	}
	if err := c.waitFor("the baseline", func() bool { return c.tracker.count(gate) == n }); err != nil {
		return 0, err
	}
	return c.tracker.lastSeen(gate).Sub(start), nil
}

// flipLatencies toggles the label on pods one at a time, each off and on
// again, and times each flip of the condition from the pod event and from
// the label write.
func (c *cluster) flipLatencies(ctx context.Context, pods int) (fromEvent, fromWrite []time.Duration, err error) {
	for i := range pods {
		name := fmt.Sprintf("pod-%05d", i)
		for _, step := range []struct {
			label string
			want  corev1.ConditionStatus
		}{{"on", corev1.ConditionFalse}, {"off", corev1.ConditionTrue}} {
			start := time.Now()
			patch := fmt.Sprintf(`{"metadata":{"labels":{%q:%q}}}`, flipLabel, step.label)
			if _, err := c.cs.CoreV1().Pods(benchNamespace).Patch(ctx, name, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
				return nil, nil, err
			}
			flipped, err := c.awaitFlip(name, flipGate, step.want)
			if err != nil {
				return nil, nil, err
			}
			// One watch shows the label change before the condition
			// that follows from it.
			event, ok := c.tracker.labelSeen(name, step.label)
			if !ok {
				return nil, nil, fmt.Errorf("pod %s flipped to %s before the watch showed its label %s", name, step.want, step.label)
			}
			fromEvent = append(fromEvent, flipped.Sub(event))
			fromWrite = append(fromWrite, flipped.Sub(start))
		}
	}
	return fromEvent, fromWrite, nil
}

// conditionPatch is a bare client's strategic merge patch of one condition.
func conditionPatch(conditionType string, status corev1.ConditionStatus) []byte {
	return fmt.Appendf(nil, `{"status":{"conditions":[{"type":%q,"status":%q,"reason":"Baseline","lastTransitionTime":%q}]}}`,
		conditionType, status, time.Now().UTC().Format(time.RFC3339))
}

// rawWriteLatencies sets the baseline gate False and True again on pods
// one at a time, as a bare client, and times each write to the watch event
// that shows it.
func (c *cluster) rawWriteLatencies(ctx context.Context, pods int) ([]time.Duration, error) {
	var out []time.Duration
	for i := range pods {
		name := fmt.Sprintf("pod-%05d", i)
		for _, status := range []corev1.ConditionStatus{corev1.ConditionFalse, corev1.ConditionTrue} {
			start := time.Now()
			if _, err := c.cs.CoreV1().Pods(benchNamespace).Patch(ctx, name, types.StrategicMergePatchType, conditionPatch(baselineGate, status), metav1.PatchOptions{}, "status"); err != nil {
				return nil, err
			}
			flipped, err := c.awaitFlip(name, baselineGate, status)
			if err != nil {
				return nil, err
			}
			out = append(out, flipped.Sub(start))
		}
	}
	return out, nil
}

// measuredRun runs one convergence and waits for the cluster to settle
// after it, and returns what that cost.
func (c *cluster) measuredRun(ctx context.Context, run func() error) (load, error) {
	l0, err := c.measureLoad(ctx)
	if err != nil {
		return load{}, err
	}
	if err := run(); err != nil {
		return load{}, err
	}
	if err := c.waitFor("the cluster to settle", func() bool { return c.tracker.quietFor(time.Second) }); err != nil {
		return load{}, err
	}
	l1, err := c.measureLoad(ctx)
	return l1.sub(l0), err
}

// awaitFlip waits for the watch to show the pod's condition flip to want,
// and returns when it did.
func (c *cluster) awaitFlip(pod, conditionType string, want corev1.ConditionStatus) (time.Time, error) {
	timeout := time.After(30 * time.Second)
	for {
		select {
		case f := <-c.tracker.flips:
			if f.pod == pod && f.conditionType == conditionType && f.status == want {
				return f.at, nil
			}
		case <-timeout:
			return time.Time{}, fmt.Errorf("pod %s did not flip to %s", pod, want)
		}
	}
}

// countWrites counts, over the window, the writes the operator's client
// made (its rest_client_requests_total) and all writes to pods, policies and
// events that the apiserver served (its apiserver_request_total), which
// include the simulator's and the harness's.
func (c *cluster) countWrites(ctx context.Context, window time.Duration) (operator, apiserver float64, err error) {
	count := func() (float64, float64, error) {
		var op, api float64
		for _, verb := range []string{"POST", "PUT", "PATCH", "DELETE"} {
			v, err := c.operatorMetric("rest_client_requests_total", `method="`+verb+`"`)
			if err != nil {
				return 0, 0, err
			}
			op += v
			for _, resource := range []string{"pods", "readinessgatepolicies", "events"} {
				v, err := c.apiserverMetric(ctx, "apiserver_request_total", `verb="`+verb+`"`, `resource="`+resource+`"`)
				if err != nil {
					return 0, 0, err
				}
				api += v
			}
		}
		return op, api, nil
	}
	// Start once the operator's writes have stopped: the last flip's
	// status write must not count as steady state.
	op0, api0, err := count()
	for settle := 0; err == nil && settle < 30; settle++ {
		time.Sleep(time.Second)
		var op float64
		if op, api0, err = count(); op == op0 {
			break
		}
		op0 = op
	}
	if err != nil {
		return 0, 0, err
	}
	time.Sleep(window)
	op1, api1, err := count()
	return op1 - op0, api1 - api0, err
}

func (c *cluster) readyPods(ctx context.Context) int {
	list, err := c.cs.CoreV1().Pods(benchNamespace).List(ctx, metav1.ListOptions{ResourceVersion: "0"})
	if err != nil {
		return -1
	}
	n := 0
	for _, p := range list.Items {
		for _, cond := range p.Status.Conditions {
			if cond.Type == corev1.PodReady && cond.Status == corev1.ConditionTrue {
				n++
			}
		}
	}
	return n
}

// sourcesResult is the polling throughput of the http and metrics sources.
type sourcesResult struct {
	Pods                      int
	HTTPPerSec, MetricsPerSec float64
	Window                    time.Duration
}

// runSources polls n pods with real loopback servers through both sources
// at a one-second interval and counts the fetches the operator makes.
func runSources(ctx context.Context, root, manager string, n int, window time.Duration) (sourcesResult, error) {
	res := sourcesResult{Pods: n, Window: window}
	c, err := newCluster(ctx, root)
	if err != nil {
		return res, err
	}
	defer c.stop()
	logf("sources: %d pods with servers", n)
	for i := range n {
		srv, err := testenv.StartPodServer(sourceIP(i), 8080)
		if err != nil {
			return res, err
		}
		defer func() { _ = srv.Close() }()
		srv.Answer(http.StatusOK, "text/plain; version=0.0.4", "cache_warm_ratio 1\n")
	}
	if err := c.createPods(ctx, n, []string{httpGate, metricsGate}, func(i int, p *corev1.Pod) {
		p.Annotations = map[string]string{testenv.AnnotationPodIP: sourceIP(i)}
	}); err != nil {
		return res, err
	}
	if err := c.waitFor("pods running", func() bool { return c.tracker.runningCount() == n }); err != nil {
		return res, err
	}
	if err := c.startOperator(manager); err != nil {
		return res, err
	}
	second := &metav1.Duration{Duration: time.Second}
	ep := v1alpha1.PodEndpoint{Port: intstr.FromInt32(8080), Timeout: second}
	for _, p := range []*v1alpha1.ReadinessGatePolicy{
		{ObjectMeta: metav1.ObjectMeta{Name: "http", Namespace: benchNamespace}, Spec: v1alpha1.ReadinessGatePolicySpec{
			Selector: metav1.LabelSelector{MatchLabels: benchLabels}, ConditionType: httpGate,
			Expression: "http.statusCode == 200", Interval: second, Sources: &v1alpha1.Sources{HTTP: &v1alpha1.HTTPSource{PodEndpoint: ep}}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "metrics", Namespace: benchNamespace}, Spec: v1alpha1.ReadinessGatePolicySpec{
			Selector: metav1.LabelSelector{MatchLabels: benchLabels}, ConditionType: metricsGate,
			Expression: "metrics.value('cache_warm_ratio') >= 0.95", Interval: second, Sources: &v1alpha1.Sources{Metrics: &v1alpha1.MetricsSource{PodEndpoint: ep}}}},
	} {
		if err := c.k8s.Create(ctx, p); err != nil {
			return res, err
		}
	}
	if err := c.waitFor("every pod gated by both sources", func() bool {
		return c.tracker.count(httpGate) == n && c.tracker.count(metricsGate) == n
	}); err != nil {
		return res, err
	}
	fetches := func(source string) (float64, error) {
		return c.operatorMetric("readygate_source_fetch_duration_seconds_count", `source="`+source+`"`)
	}
	h0, err := fetches("http")
	if err != nil {
		return res, err
	}
	m0, err := fetches("metrics")
	if err != nil {
		return res, err
	}
	time.Sleep(window)
	h1, err := fetches("http")
	if err != nil {
		return res, err
	}
	m1, err := fetches("metrics")
	if err != nil {
		return res, err
	}
	res.HTTPPerSec, res.MetricsPerSec = (h1-h0)/window.Seconds(), (m1-m0)/window.Seconds()
	return res, nil
}

// sourceIP spreads pods over 127.1.0.0/16, all loopback.
func sourceIP(i int) string { return fmt.Sprintf("127.1.%d.%d", i/250, i%250+1) }

func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	idx := int(float64(len(s)-1) * p)
	return s[idx]
}
