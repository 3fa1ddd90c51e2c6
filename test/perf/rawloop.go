package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/clientcmd"
)

// The raw loop runs in a process of its own, as the operator does: in the
// harness's process it took the CPU the kubelet simulator needs beside it,
// so the simulator's Ready updates trailed the loop's last condition (22.6 s
// of 51 s at 10,000 pods) instead of interleaving with it as they do with
// the operator's, and the loop had the API server to itself.
const (
	// rawLoopEnv names, in the harness's own binary started again, the
	// condition type the raw loop sets; rawLoopPodsEnv, how many pods.
	rawLoopEnv     = "READYGATE_PERF_RAW_LOOP"
	rawLoopPodsEnv = "READYGATE_PERF_RAW_LOOP_PODS"
)

// runRawLoopIfAsked runs the raw loop and exits, when the harness started
// this binary to do so (from main, or TestMain in the smoke test).
func runRawLoopIfAsked() {
	gate := os.Getenv(rawLoopEnv)
	if gate == "" {
		return
	}
	if err := rawLoop(context.Background(), gate); err != nil {
		fail(err)
	}
	os.Exit(0)
}

// rawLoop is the fastest raw loop a client can write: parallel strategic
// merge patches of one condition on pods/status, with the operator's client
// rate limits. It prints when it started, for the harness to time it from.
func rawLoop(ctx context.Context, gate string) error {
	n, err := strconv.Atoi(os.Getenv(rawLoopPodsEnv))
	if err != nil {
		return fmt.Errorf("%s: %w", rawLoopPodsEnv, err)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", os.Getenv("KUBECONFIG"))
	if err != nil {
		return err
	}
	cfg.QPS, cfg.Burst = clientQPS, clientBurst
	cs, err := kubernetesFor(cfg)
	if err != nil {
		return err
	}
	fmt.Println(time.Now().Format(time.RFC3339Nano))
	return parallel(n, baselineWorkers, func(i int) error {
		_, err := cs.CoreV1().Pods(benchNamespace).Patch(ctx, fmt.Sprintf("pod-%05d", i), types.StrategicMergePatchType, conditionPatch(gate, corev1.ConditionTrue), metav1.PatchOptions{}, "status")
		return err
	})
}

// startRawLoop runs the raw loop in a process of its own and returns when
// it started.
func (c *cluster) startRawLoop(ctx context.Context, n int, gate string) (time.Time, error) {
	self, err := os.Executable()
	if err != nil {
		return time.Time{}, err
	}
	cmd := exec.CommandContext(ctx, self)
	cmd.Env = append(os.Environ(), rawLoopEnv+"="+gate, fmt.Sprintf("%s=%d", rawLoopPodsEnv, n), "KUBECONFIG="+c.cp.KubeconfigPath)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return time.Time{}, fmt.Errorf("the raw loop: %w", err)
	}
	line, _, _ := strings.Cut(string(out), "\n")
	start, err := time.Parse(time.RFC3339Nano, line)
	if err != nil {
		return time.Time{}, errors.Join(errors.New("the raw loop did not say when it started"), err)
	}
	return start, nil
}
