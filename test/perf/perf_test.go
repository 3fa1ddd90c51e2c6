package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestMain lets the harness start this binary again as its raw loop.
func TestMain(m *testing.M) {
	runRawLoopIfAsked()
	os.Exit(m.Run())
}

// TestHarnessSmoke runs every scenario at a tiny scale to check that the
// harness works; the timings are not judged here.
func TestHarnessSmoke(t *testing.T) {
	manager := filepath.Join(t.TempDir(), "manager")
	build := exec.Command("go", "build", "-o", manager, "../../cmd")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		t.Fatal(err)
	}
	rep, err := run(context.Background(), filepath.Join("..", ".."), manager, plan{sizes: []int{50}, mixed: 50, flips: 10, steady: 2 * time.Second, sourcePods: 20})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []sizeResult{rep.Sizes[0], *rep.Mixed} {
		if !plausible(s) {
			t.Fatalf("implausible figures: %+v", s)
		}
	}
	if rep.Mixed.Ungated != 50 {
		t.Fatalf("the mixed scenario ran %d ungated pods, want 50", rep.Mixed.Ungated)
	}
	if rep.Sources.HTTPPerSec <= 0 || rep.Sources.MetricsPerSec <= 0 {
		t.Fatalf("no source was polled: %+v", rep.Sources)
	}
	if rep.CEL.EvalNs <= 0 || rep.CEL.CompileNs <= rep.CEL.EvalNs {
		t.Fatalf("implausible CEL figures: %+v", rep.CEL)
	}
	out := filepath.Join(t.TempDir(), "performance.md")
	if err := rep.write(out); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{out, filepath.Join(filepath.Dir(out), "performance-convergence.png"), filepath.Join(filepath.Dir(out), "performance-flip-latency.png"),
		filepath.Join(filepath.Dir(out), "performance-memory.png")} {
		if st, err := os.Stat(f); err != nil || st.Size() == 0 {
			t.Fatalf("%s not written: %v", f, err)
		}
	}
}

// plausible says whether a smoke run of 50 pods and 10 flips measured what
// every figure of the report needs.
func plausible(s sizeResult) bool {
	timings := s.Baseline > 0 && s.BaselineBefore > 0 && s.BaselineAfter > 0 && s.Converge > 0 &&
		s.Flips == 10 && s.FlipP50 > 0 && s.FlipP99 >= s.FlipP50 && s.FlipFromWriteP50 >= s.FlipP50 && s.FlipFromWriteP99 >= s.FlipFromWriteP50 &&
		s.RawWriteP50 > 0 && s.RawWriteP99 >= s.RawWriteP50
	memory := s.RSSBytes > 0 && s.PeakRSSBytes >= s.RSSBytes && s.AnonBytes > 0 && s.AnonBytes <= s.RSSBytes &&
		s.HeapBytes > 0 && s.LiveHeapBytes > 0
	work := s.RecountMean > 0 && s.TalliedPerFlip > 0 && s.ConvergePatchesPerPod >= 1
	return s.N == 50 && timings && memory && work
}
