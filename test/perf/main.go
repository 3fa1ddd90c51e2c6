// Command perf is readygate's scale harness: it runs the operator against a
// real control plane at several pod counts, measures the figures of the
// design's performance targets, and writes docs/performance.md with plots.
// `make bench` runs it; BENCH_FULL=1 adds 10,000 pods.
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

func main() {
	sizes := flag.String("sizes", "1000,5000", "Pod counts to measure.")
	flips := flag.Int("flips", 200, "Flips to time at each size.")
	steady := flag.Duration("steady", 30*time.Second, "Window in which steady-state writes are counted.")
	sourcePods := flag.Int("source-pods", 2000, "Pods polled in the sources scenario.")
	out := flag.String("out", "docs/performance.md", "Report to write; its plots go beside it.")
	manager := flag.String("manager", "bin/manager", "The manager binary.")
	flag.Parse()

	var ns []int
	for _, s := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			fail(fmt.Errorf("--sizes: %w", err))
		}
		ns = append(ns, n)
	}
	if os.Getenv("BENCH_FULL") == "1" {
		ns = append(ns, 10000)
	}
	rep, err := run(context.Background(), ".", *manager, ns, *flips, *steady, *sourcePods)
	if err != nil {
		fail(err)
	}
	if err := rep.write(*out); err != nil {
		fail(err)
	}
	logf("wrote %s", *out)
}

// run measures every scenario.
func run(ctx context.Context, root, manager string, sizes []int, flips int, steady time.Duration, sourcePods int) (*report, error) {
	manager, err := filepath.Abs(manager)
	if err != nil {
		return nil, err
	}
	ctrllog.SetLogger(logr.Discard())
	rep := &report{Machine: machine(), Started: time.Now()}
	for _, n := range sizes {
		r, err := runSize(ctx, root, manager, n, flips, steady)
		if err != nil {
			return nil, fmt.Errorf("with %d pods: %w", n, err)
		}
		logf("N=%d: baseline %s, operator %s (%.2fx), flip p50 %s p99 %s, %.3f operator writes/pod/min (all writers %.3f), RSS %.1f MiB, heap %.1f MiB",
			n, r.Baseline, r.Converge, r.ratio(), r.FlipP50, r.FlipP99, r.WritesPerPodMinute, r.AllWritesPerPodMinute, r.RSSBytes/(1<<20), r.HeapBytes/(1<<20))
		rep.Sizes = append(rep.Sizes, r)
	}
	if sourcePods > 0 {
		rep.Sources, err = runSources(ctx, root, manager, sourcePods, 10*time.Second)
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
