package controllers

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/yaml"

	"github.com/readygate/readygate/internal/podcache"
)

// BenchmarkCachedPod measures what the pod cache keeps per pod, as the
// informer receives it: the transform's time per pod (ns/op), and the heap
// that stays alive per cached pod (B/pod), for the whole pod, a gated pod
// trimmed with its body kept apart, and an ungated pod; and the time to
// restore a gated pod's spec and status for a policy that reads them.
func BenchmarkCachedPod(b *testing.B) {
	const kept = 2000
	for _, file := range []string{"bench-pod.yaml", "deployment-pod.yaml"} {
		data, err := os.ReadFile(filepath.Join("testdata", file))
		if err != nil {
			b.Fatal(err)
		}
		pod := &corev1.Pod{}
		if err := yaml.UnmarshalStrict(data, pod); err != nil {
			b.Fatalf("%s: %v", file, err)
		}
		ungated := pod.DeepCopy()
		ungated.Spec.ReadinessGates = nil
		for _, c := range []struct {
			name string
			pod  *corev1.Pod
			trim bool
		}{{"whole", pod, false}, {"gated", pod, true}, {"ungated", ungated, true}} {
			b.Run(fmt.Sprintf("%s/%s", file, c.name), func(b *testing.B) {
				keep := func(p any) (any, error) { return p, nil }
				if c.trim {
					shared := podcache.NewInterner()
					keep = func(p any) (any, error) { return trimPod(shared, p) }
				}
				perPod := retainedPerPod(b, kept, c.pod, keep)
				for b.Loop() {
					if _, err := keep(decodedPod(b, c.pod)); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(perPod, "B/pod")
			})
		}
		b.Run(file+"/restore", func(b *testing.B) {
			entry, err := trimPod(podcache.NewInterner(), decodedPod(b, pod))
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if _, err := entry.(*podcache.Gated).Whole(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// retainedPerPod is the heap that n kept copies of pod hold, per copy.
func retainedPerPod(b *testing.B, n int, pod *corev1.Pod, keep func(any) (any, error)) float64 {
	var before, after runtime.MemStats
	held := make([]any, n)
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := range held {
		p := decodedPod(b, pod)
		p.UID = types.UID(fmt.Sprintf("uid-%d", i))
		var err error
		if held[i], err = keep(p); err != nil {
			b.Fatal(err)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(held)
	return float64(after.HeapAlloc-before.HeapAlloc) / float64(n)
}
