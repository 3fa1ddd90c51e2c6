package main

import (
	"context"
	"net/http"
	"syscall"
	"time"
)

// cpuUse is the CPU time each process of a bench cluster has spent: on a
// 2-core machine they all share, it shows who a run's time went to.
type cpuUse struct {
	APIServer, Etcd, Operator, Harness time.Duration
}

// load is what the API server served, and the CPU every process spent,
// up to one moment; the difference of two is one run's share.
type load struct {
	// at is when it was measured; Wall, a run's time until the cluster
	// settled.
	at   time.Time
	Wall time.Duration
	CPU  cpuUse
	// StatusPatches and StatusPatchSeconds are the PATCHes of pods/status
	// the API server served and their summed server-side latency.
	StatusPatches, StatusPatchSeconds float64
}

func (l load) sub(o load) load {
	return load{
		Wall: l.at.Sub(o.at),
		CPU: cpuUse{APIServer: l.CPU.APIServer - o.CPU.APIServer, Etcd: l.CPU.Etcd - o.CPU.Etcd,
			Operator: l.CPU.Operator - o.CPU.Operator, Harness: l.CPU.Harness - o.CPU.Harness},
		StatusPatches:      l.StatusPatches - o.StatusPatches,
		StatusPatchSeconds: l.StatusPatchSeconds - o.StatusPatchSeconds,
	}
}

// total is the CPU time of every process.
func (u cpuUse) total() time.Duration { return u.APIServer + u.Etcd + u.Operator + u.Harness }

// meanStatusPatch is the API server's mean time to serve one PATCH of
// pods/status.
func (l load) meanStatusPatch() time.Duration {
	if l.StatusPatches == 0 {
		return 0
	}
	return time.Duration(l.StatusPatchSeconds / l.StatusPatches * float64(time.Second))
}

// namedLoad is one run of a scenario and what it cost.
type namedLoad struct {
	name string
	load
}

// loads are a scenario's runs in the order they ran.
func (r sizeResult) loads() []namedLoad {
	return []namedLoad{{"raw loop before", r.LoadBefore}, {"operator", r.LoadConverge}, {"raw loop after", r.LoadAfter}}
}

// settledRatio compares the operator's run with the raw loop's, each until
// the cluster settled, in time and in the CPU every process spent: what the
// whole cluster pays for the operator's convergence, where ratio() stops at
// the last condition and leaves out the kubelet's work behind it.
func (r sizeResult) settledRatio() (wall, cpu float64) {
	meanWall := (r.LoadBefore.Wall + r.LoadAfter.Wall).Seconds() / 2
	meanCPU := (r.LoadBefore.CPU.total() + r.LoadAfter.CPU.total()).Seconds() / 2
	return r.LoadConverge.Wall.Seconds() / meanWall, r.LoadConverge.CPU.total().Seconds() / meanCPU
}

// measureLoad reads the API server's, etcd's and the operator's metrics and
// the harness's rusage; the harness process holds the kubelet simulator and
// the watch that timestamps pods, and starts the raw loops.
func (c *cluster) measureLoad(ctx context.Context) (load, error) {
	l := load{at: time.Now()}
	var err error
	statusPatch := []string{`verb="PATCH"`, `resource="pods"`, `subresource="status"`}
	if l.StatusPatches, err = c.apiserverMetric(ctx, "apiserver_request_duration_seconds_count", statusPatch...); err != nil {
		return l, err
	}
	if l.StatusPatchSeconds, err = c.apiserverMetric(ctx, "apiserver_request_duration_seconds_sum", statusPatch...); err != nil {
		return l, err
	}
	cpu := func(v float64, err error) (time.Duration, error) { return time.Duration(v * float64(time.Second)), err }
	if l.CPU.APIServer, err = cpu(c.apiserverMetric(ctx, "process_cpu_seconds_total")); err != nil {
		return l, err
	}
	if l.CPU.Etcd, err = cpu(c.etcdMetric(ctx, "process_cpu_seconds_total")); err != nil {
		return l, err
	}
	if l.CPU.Operator, err = cpu(c.operatorMetric("process_cpu_seconds_total")); err != nil {
		return l, err
	}
	// The raw loops, its children that have ended, count as the harness.
	for _, who := range []int{syscall.RUSAGE_SELF, syscall.RUSAGE_CHILDREN} {
		var ru syscall.Rusage
		if err := syscall.Getrusage(who, &ru); err != nil {
			return l, err
		}
		l.CPU.Harness += time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	return l, nil
}

// etcdMetric sums a metric's samples on etcd's client port.
func (c *cluster) etcdMetric(ctx context.Context, name string) (float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.cp.EtcdURL()+"/metrics", nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer func() { _ = resp.Body.Close() }()
	return sumMetric(resp.Body, name)
}
