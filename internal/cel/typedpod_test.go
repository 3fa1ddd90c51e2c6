package cel_test

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/readygate/readygate/controllers"
	"github.com/readygate/readygate/internal/cel"
	"github.com/readygate/readygate/internal/testenv"
)

// TestTypedPod reads a pod through the environment a real apiserver's Pod
// schema types, as the operator does: the fields it serves directly (name,
// namespace, labels, annotations) and those it leaves to the reflected
// ObjectMeta must read, test and compare alike.
func TestTypedPod(t *testing.T) {
	cp, err := testenv.Start(testenv.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cp.Stop() })
	env, err := controllers.NewCELEnv(cp.Config)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	full := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{
		Name: "web-0", GenerateName: "web-", Namespace: "shop", UID: "u-1",
		Labels: map[string]string{"app": "web", "warm": "true"}, Annotations: map[string]string{"team": "checkout"},
		CreationTimestamp: metav1.NewTime(now.Add(-time.Minute)), Finalizers: []string{"x.io/y"},
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "web", UID: "rs"}},
	}, Spec: corev1.PodSpec{NodeName: "node-1", Containers: []corev1.Container{{Name: "app", Image: "app:1"}}}}
	bare := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "bare", Labels: map[string]string{}}}

	cases := []struct {
		expr       string
		full, bare string // "true", "false", or a substring of the error
	}{
		{"pod.apiVersion == 'v1' && pod.kind == 'Pod'", "true", "true"},
		{"pod.metadata.name == 'web-0'", "true", "false"},
		{"has(pod.metadata.namespace)", "true", "false"},
		{"has(pod.metadata.labels)", "true", "false"},
		{"has(pod.metadata.labels.warm)", "true", "no such key: labels"},
		{"pod.metadata.labels.warm == 'true'", "true", "no such key: labels"},
		{"pod.metadata.labels.nosuch == 'x'", "no such key: nosuch", "no such key: labels"},
		{"'warm' in pod.metadata.labels && size(pod.metadata.labels) == 2", "true", "no such key: labels"},
		{"pod.metadata.labels.all(k, pod.metadata.labels[k] != '')", "true", "no such key: labels"},
		{"pod.metadata.labels == {'app': 'web', 'warm': 'true'}", "true", "no such key: labels"},
		{"has(pod.metadata.annotations) && pod.metadata.annotations.team == 'checkout'", "true", "false"},
		{"pod.metadata.uid == 'u-1'", "true", "no such key: uid"},
		{"has(pod.metadata.uid)", "true", "false"},
		{"pod.metadata.generateName.startsWith('web-')", "true", "no such key: generateName"},
		{"pod.metadata.ownerReferences[0].kind == 'ReplicaSet'", "true", "no such key: ownerReferences"},
		{"pod.metadata.finalizers.exists(f, f == 'x.io/y')", "true", "no such key: finalizers"},
		{"pod.metadata.creationTimestamp < now", "true", "no such key: creationTimestamp"},
		{"has(pod.metadata.deletionTimestamp)", "false", "false"},
		{"pod.metadata == pod.metadata", "true", "true"},
		{"has(pod.spec.nodeName) && pod.spec.nodeName == 'node-1'", "true", "false"},
	}
	for _, tc := range cases {
		prog, err := env.Compile(cel.Policy{Expression: tc.expr}, false)
		if err != nil {
			t.Errorf("%s: %v", tc.expr, err)
			continue
		}
		for _, run := range []struct {
			pod  *corev1.Pod
			want string
		}{{full, tc.full}, {bare, tc.bare}} {
			res, err := prog.Evaluate(context.Background(), cel.Input{Pod: run.pod, Now: now})
			got := map[bool]string{true: "true", false: "false"}[res.Ready]
			if err != nil {
				got = err.Error()
			}
			if got != run.want && (err == nil || !strings.Contains(got, run.want)) {
				t.Errorf("%s on pod %s: got %q, want %q", tc.expr, run.pod.Name, got, run.want)
			}
		}
	}
}
