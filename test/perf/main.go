// Command perf is readygate's scale harness: it runs the operator against a
// real control plane at several pod counts, measures the figures of the
// design's performance targets, and writes docs/performance.md with plots.
// `make bench` runs it; BENCH_FULL=1 adds 50,000 pods.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
)

// fullSize is the pod count BENCH_FULL=1 adds: issue 15's 300 MiB target.
const fullSize = 50000

// plan is what one run measures.
type plan struct {
	sizes []int // gated pods, one fresh cluster each
	// mixed is the gated pods of the scenario with as many ungated pods
	// beside them; 0 skips it.
	mixed      int
	flips      int
	steady     time.Duration
	sourcePods int
}

func main() {
	runRawLoopIfAsked()
	sizes := flag.String("sizes", "1000,5000,10000", "Gated pod counts to measure (none: only the mixed scenario); BENCH_FULL=1 adds 50000.")
	mixed := flag.Int("mixed", 10000, "Gated pods of the scenario with as many ungated pods beside them; 0 skips it.")
	flips := flag.Int("flips", 1000, "Flips to time at each size: a p99 of 1,000 is the tenth slowest, where one of 200 was the second slowest and moved by half between runs.")
	steady := flag.Duration("steady", 30*time.Second, "Window in which steady-state writes are counted.")
	sourcePods := flag.Int("source-pods", 2000, "Pods polled in the sources scenario.")
	out := flag.String("out", "docs/performance.md", "Report to write; its plots go beside it.")
	manager := flag.String("manager", "bin/manager", "The manager binary.")
	flag.IntVar(&memoryLimit, "memory-limit-mib", deployedMemoryLimit>>20, "The operator's memory limit (MEMORY_LIMIT), in MiB; default the deployment's.")
	flag.Parse()
	memoryLimit <<= 20

	pl := plan{mixed: *mixed, flips: *flips, steady: *steady, sourcePods: *sourcePods}
	for _, s := range strings.FieldsFunc(*sizes, func(r rune) bool { return r == ',' }) {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			fail(fmt.Errorf("--sizes: %w", err))
		}
		pl.sizes = append(pl.sizes, n)
	}
	if os.Getenv("BENCH_FULL") == "1" {
		pl.sizes = append(pl.sizes, fullSize)
	}
	rep, err := run(context.Background(), ".", *manager, pl)
	if err != nil {
		fail(err)
	}
	if err := rep.write(*out); err != nil {
		fail(err)
	}
	logf("wrote %s", *out)
}

// run measures every scenario.
func run(ctx context.Context, root, manager string, pl plan) (*report, error) {
	manager, err := filepath.Abs(manager)
	if err != nil {
		return nil, err
	}
	ctrllog.SetLogger(logr.Discard())
	rep := &report{Machine: machine(), Started: time.Now(), StartLoad: loadAverage()}
	for _, n := range pl.sizes {
		r, err := runAndLog(ctx, root, manager, n, 0, pl)
		if err != nil {
			return nil, err
		}
		rep.Sizes = append(rep.Sizes, r)
	}
	if pl.mixed > 0 {
		r, err := runAndLog(ctx, root, manager, pl.mixed, pl.mixed, pl)
		if err != nil {
			return nil, err
		}
		rep.Mixed = &r
	}
	if pl.sourcePods > 0 {
		rep.Sources, err = runSources(ctx, root, manager, pl.sourcePods, 10*time.Second)
		if err != nil {
			return nil, fmt.Errorf("sources: %w", err)
		}
		logf("sources: http %.0f/s, metrics %.0f/s", rep.Sources.HTTPPerSec, rep.Sources.MetricsPerSec)
	}
	if rep.CEL, err = runCEL(ctx, root); err != nil {
		return nil, fmt.Errorf("cel: %w", err)
	}
	rep.Finished = time.Now()
	return rep, nil
}

// runAndLog measures one size and logs its figures as soon as they are known.
func runAndLog(ctx context.Context, root, manager string, n, ungated int, pl plan) (sizeResult, error) {
	r, err := runSize(ctx, root, manager, n, ungated, pl.flips, pl.steady)
	if err != nil {
		return r, fmt.Errorf("%s: %w", r.label(), err)
	}
	logf("%s: baseline %s (before %s, after %s), operator %s (%.2fx, %.3f PATCHes per pod), flip p50 %s p99 %s (from the label write p50 %s p99 %s; bare write p50 %s p99 %s), %.3f operator writes/pod/min (all writers %.3f), RSS %.1f MiB (peak %.1f, anonymous %.1f), heap %.1f MiB (live %.1f), recount mean %s, %.1f pods tallied per flip, load %s",
		r.label(), r.Baseline, r.BaselineBefore, r.BaselineAfter, r.Converge, r.ratio(), r.ConvergePatchesPerPod, r.FlipP50, r.FlipP99, r.FlipFromWriteP50, r.FlipFromWriteP99, r.RawWriteP50, r.RawWriteP99, r.WritesPerPodMinute, r.AllWritesPerPodMinute,
		r.RSSBytes/(1<<20), r.PeakRSSBytes/(1<<20), r.AnonBytes/(1<<20), r.HeapBytes/(1<<20), r.LiveHeapBytes/(1<<20), r.RecountMean, r.TalliedPerFlip, r.Load)
	for _, l := range r.loads() {
		logf("%s: %s: %s, %.0f PATCHes of pods/status at %s each on the server; CPU: API server %s, etcd %s, operator %s, harness %s",
			r.label(), l.name, l.Wall, l.StatusPatches, l.meanStatusPatch(), l.CPU.APIServer, l.CPU.Etcd, l.CPU.Operator, l.CPU.Harness)
	}
	return r, nil
}

func kubernetesFor(cfg *rest.Config) (*kubernetes.Clientset, error) {
	return kubernetes.NewForConfig(cfg)
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, time.Now().Format("15:04:05 ")+format+"\n", args...)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "perf:", err)
	os.Exit(1)
}
