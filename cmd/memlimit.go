package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/debug"

	"k8s.io/apimachinery/pkg/api/resource"
	ctrl "sigs.k8s.io/controller-runtime"
)

// memoryLimitEnv carries the container's memory limit in bytes, from the
// downward API (resourceFieldRef: limits.memory in config/manager).
const memoryLimitEnv = "MEMORY_LIMIT"

// memoryLimitShare is the part of the container's limit the Go runtime aims
// to stay under. GOMEMLIMIT counts only memory the runtime manages; the rest
// of the container's usage (the binary's mapped pages, memory the runtime
// has freed but the kernel not yet reclaimed, page rounding) and the time a
// collection takes to catch up with a burst of allocation need headroom:
// a tenth is about 25 MiB at the default 256 MiB, which covers them.
const memoryLimitShare = 0.9

// setMemoryLimit tells the runtime the container's limit, so that it collects
// harder as the heap nears it rather than let the kubelet kill the process.
func setMemoryLimit() error {
	limit, ok, err := goMemoryLimit(os.Getenv(memoryLimitEnv), os.Getenv("GOMEMLIMIT"))
	if err != nil || !ok {
		return err
	}
	debug.SetMemoryLimit(limit)
	ctrl.Log.Info("set the Go runtime's memory limit from the container's", "GOMEMLIMIT", limit, memoryLimitEnv, os.Getenv(memoryLimitEnv))
	return nil
}

// goMemoryLimit returns the soft memory limit to set, from the container's
// limit; ok is false when there is none to set: GOMEMLIMIT, when given,
// wins (the runtime applied it already), and without a container limit the
// runtime keeps its default.
func goMemoryLimit(containerLimit, goMemLimit string) (limit int64, ok bool, err error) {
	if goMemLimit != "" || containerLimit == "" {
		return 0, false, nil
	}
	q, err := resource.ParseQuantity(containerLimit)
	if err != nil {
		return 0, false, fmt.Errorf("environment variable %s=%q is not a memory quantity: %w", memoryLimitEnv, containerLimit, err)
	}
	if q.Sign() <= 0 {
		return 0, false, fmt.Errorf("environment variable %s=%q: the memory limit must be positive", memoryLimitEnv, containerLimit)
	}
	return int64(float64(q.Value()) * memoryLimitShare), true, nil
}

// defaultGCPercent is the collector's target when GOGC is not set: a new
// collection once the heap has grown by a quarter of what the last one left
// alive. Most of the operator's heap is its caches, alive for good, so Go's
// default of 100 doubles the memory they take. At 10,000 gated and 10,000
// other pods, 50 took the RSS from 212 to 175 MiB with the same CPU over a
// rollout, and 25 from 121 to 104 MiB, at about a quarter more of the
// operator's CPU while pods change (docs/scaling.md).
const defaultGCPercent = 25

// setGCPercent sets defaultGCPercent unless GOGC says otherwise.
func setGCPercent() {
	if percent, ok := gcPercent(os.Getenv("GOGC")); ok {
		debug.SetGCPercent(percent)
	}
}

// gcPercent returns the GC percent to set: ok is false when GOGC is given,
// which the runtime applied already.
func gcPercent(goGC string) (percent int, ok bool) {
	if goGC != "" {
		return 0, false
	}
	return defaultGCPercent, true
}

// allocationProfileRate is the runtime's heap profile sampling rate for the
// manager's pprof address: none when no endpoint serves the profile. Its
// buckets, one per distinct allocation stack sampled, took about 1.5 MiB at
// 10,000 pods that no one could read.
func allocationProfileRate(pprofAddr string) int {
	if pprofAddr == "" || pprofAddr == "0" {
		return 0
	}
	return runtime.MemProfileRate
}
