package cel

import (
	"context"
	"testing"
	"time"
)

// typicalExpression is the kind of pod-only expression most policies use.
const typicalExpression = "has(pod.metadata.labels.warm) && pod.metadata.labels.warm == 'true'"

func BenchmarkCompile(b *testing.B) {
	env := mustEnv(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := env.Compile(Policy{Expression: typicalExpression}, false); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEvaluate(b *testing.B) {
	env := mustEnv(b)
	prog, err := env.Compile(Policy{Expression: typicalExpression}, false)
	if err != nil {
		b.Fatal(err)
	}
	in := Input{Pod: testPod(), Now: time.Now()}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := prog.Evaluate(context.Background(), in); err != nil {
			b.Fatal(err)
		}
	}
}
