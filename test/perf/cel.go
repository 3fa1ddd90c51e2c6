package main

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/readygate/readygate/controllers"
	"github.com/readygate/readygate/internal/cel"
	"github.com/readygate/readygate/internal/testenv"
)

// typicalExpression is a pod-only expression like most policies'.
const typicalExpression = "has(pod.metadata.labels.warm) && pod.metadata.labels.warm == 'true'"

// celResult is the cost of compiling and evaluating the typical expression,
// with pod typed from a real apiserver's schema as in production.
type celResult struct {
	Expression                string
	CompileNs, EvalNs         float64
	CompileAllocs, EvalAllocs int64
	CompileBytes, EvalBytes   int64
}

func runCEL(_ context.Context, root string) (celResult, error) {
	res := celResult{Expression: typicalExpression}
	cp, err := testenv.Start(testenv.Options{CRDDirectoryPaths: []string{filepath.Join(root, "config", "crd", "bases")}})
	if err != nil {
		return res, err
	}
	defer func() { _ = cp.Stop() }()
	env, err := controllers.NewCELEnv(cp.Config)
	if err != nil {
		return res, err
	}
	policy := cel.Policy{Expression: typicalExpression}
	compile := testing.Benchmark(func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := env.Compile(policy, false); err != nil {
				b.Fatal(err)
			}
		}
	})
	prog, err := env.Compile(policy, false)
	if err != nil {
		return res, err
	}
	in := cel.Input{Pod: benchPod(), Now: time.Now()}
	eval := testing.Benchmark(func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := prog.Evaluate(context.Background(), in); err != nil {
				b.Fatal(err)
			}
		}
	})
	res.CompileNs, res.CompileAllocs, res.CompileBytes = float64(compile.NsPerOp()), compile.AllocsPerOp(), compile.AllocedBytesPerOp()
	res.EvalNs, res.EvalAllocs, res.EvalBytes = float64(eval.T.Nanoseconds())/float64(eval.N), eval.AllocsPerOp(), eval.AllocedBytesPerOp()
	return res, nil
}

// benchPod is a realistic pod: labels, annotations, two containers with
// resources and probes, and a full status.
func benchPod() *corev1.Pod {
	now := metav1.Now()
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "checkout-7d9f-abcde", Namespace: "shop", UID: "3f1c",
			Labels:      map[string]string{"app": "checkout", "warm": "true", "pod-template-hash": "7d9f"},
			Annotations: map[string]string{"prometheus.io/scrape": "true"}, CreationTimestamp: now},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{
				{Name: "app", Image: "checkout:1.2.3", Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}}},
				{Name: "sidecar", Image: "proxy:2"},
			},
			ReadinessGates: []corev1.PodReadinessGate{{ConditionType: "readygate.io/warm"}},
		},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.0.0.7", Conditions: []corev1.PodCondition{
			{Type: corev1.ContainersReady, Status: corev1.ConditionTrue, LastTransitionTime: now},
			{Type: corev1.PodReady, Status: corev1.ConditionFalse, LastTransitionTime: now},
		}},
	}
}
