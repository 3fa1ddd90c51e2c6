package controllers

import (
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"

	"github.com/readygate/readygate/internal/podcache"
)

// fullPod is a pod as the watch decodes it, with every section the cache
// trims; gates are its readiness gates.
func fullPod(gates ...corev1.PodConditionType) *corev1.Pod {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web-0", Namespace: "shop", UID: "u1", ResourceVersion: "7",
			Labels:        map[string]string{"app": "web"},
			Annotations:   map[string]string{corev1.LastAppliedConfigAnnotation: "{}", "team": "a"},
			ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl"}}},
		Spec: corev1.PodSpec{
			HostNetwork: true,
			Containers: []corev1.Container{
				{Name: "app", Image: "app:1", Env: []corev1.EnvVar{{Name: "MODE", Value: "warm"}},
					Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}}},
				{Name: "sidecar", Image: "proxy:2"},
			},
			InitContainers: []corev1.Container{
				{Name: "migrate", Image: "migrate:1", Ports: []corev1.ContainerPort{{Name: "migrate", ContainerPort: 9000}}},
				{Name: "istio-proxy", Image: "proxy:2", RestartPolicy: ptr.To(corev1.ContainerRestartPolicyAlways),
					Ports: []corev1.ContainerPort{{Name: "http-envoy-prom", ContainerPort: 15090}}},
			},
		},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.0.0.7", HostIP: "10.1.0.1",
			ContainerStatuses: []corev1.ContainerStatus{{Name: "app", RestartCount: 3}},
			Conditions: []corev1.PodCondition{
				{Type: corev1.PodScheduled, Status: corev1.ConditionTrue},
				{Type: corev1.ContainersReady, Status: corev1.ConditionTrue},
				{Type: corev1.PodReady, Status: corev1.ConditionFalse},
				{Type: "readygate.io/warm", Status: corev1.ConditionFalse},
				{Type: "other.io/lb", Status: corev1.ConditionTrue},
			}},
	}
	for _, g := range gates {
		pod.Spec.ReadinessGates = append(pod.Spec.ReadinessGates, corev1.PodReadinessGate{ConditionType: g})
	}
	return pod
}

func TestTrimUngatedPod(t *testing.T) {
	bodies := NewPodBodies()
	got, err := trimPod(bodies)(fullPod())
	if err != nil {
		t.Fatal(err)
	}
	// Metadata and phase alone: a whole Pod struct, even empty, is four times their size.
	meta, ok := got.(*podcache.Ungated)
	if !ok {
		t.Fatalf("an ungated pod is cached as %T, want its metadata and phase alone", got)
	}
	if meta.Phase != corev1.PodRunning {
		t.Fatalf("an ungated pod lost its phase (%q): a finished one would be told to add a gate", meta.Phase)
	}
	if meta.Name != "web-0" || meta.Namespace != "shop" || meta.UID != "u1" || meta.Labels["app"] != "web" ||
		meta.ResourceVersion != "7" {
		t.Fatalf("an ungated pod lost what selection needs: %+v", meta)
	}
	if meta.APIVersion != "v1" || meta.Kind != "Pod" {
		t.Fatalf("an ungated pod's Events would name a %s %s, want a v1 Pod", meta.APIVersion, meta.Kind)
	}
	if meta.Annotations != nil || meta.ManagedFields != nil {
		t.Fatalf("an ungated pod kept what no decision reads: %+v", meta)
	}
	if bodies.Holds(meta.UID) {
		t.Fatal("an ungated pod's body was kept: no expression ever reads it")
	}
}

func TestTrimGatedPod(t *testing.T) {
	bodies := NewPodBodies()
	got, err := trimPod(bodies)(fullPod("readygate.io/warm", "other.io/lb"))
	if err != nil {
		t.Fatal(err)
	}
	pod := got.(*corev1.Pod)
	if pod.ManagedFields != nil || pod.Annotations[corev1.LastAppliedConfigAnnotation] != "" {
		t.Errorf("kept managed fields or the last-applied annotation: %+v", pod.ObjectMeta)
	}
	if pod.Annotations["team"] != "a" || pod.Labels["app"] != "web" {
		t.Errorf("lost metadata an expression reads straight from the cache: %+v", pod.ObjectMeta)
	}
	if !pod.Spec.HostNetwork || pod.Status.PodIP != "10.0.0.7" || pod.Status.Phase != corev1.PodRunning ||
		len(pod.Spec.ReadinessGates) != 2 {
		t.Errorf("lost what the sources dial or the planner reads: %+v", pod)
	}
	wantContainers := []corev1.Container{{Name: "app", Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}}}}
	if !equality.Semantic.DeepEqual(pod.Spec.Containers, wantContainers) {
		t.Errorf("containers = %+v, want only the named ports: %+v", pod.Spec.Containers, wantContainers)
	}
	wantSidecars := []corev1.Container{{Name: "istio-proxy", RestartPolicy: ptr.To(corev1.ContainerRestartPolicyAlways),
		Ports: []corev1.ContainerPort{{Name: "http-envoy-prom", ContainerPort: 15090}}}}
	if !equality.Semantic.DeepEqual(pod.Spec.InitContainers, wantSidecars) {
		t.Errorf("init containers = %+v, want only the native sidecars' ports: %+v", pod.Spec.InitContainers, wantSidecars)
	}
	kept := make([]corev1.PodConditionType, 0, len(pod.Status.Conditions))
	for _, c := range pod.Status.Conditions {
		kept = append(kept, c.Type)
	}
	if want := []corev1.PodConditionType{corev1.ContainersReady, "readygate.io/warm", "other.io/lb"}; !equality.Semantic.DeepEqual(kept, want) {
		t.Errorf("conditions = %v, want the gates' and ContainersReady: %v", kept, want)
	}
	if pod.Status.ContainerStatuses != nil || pod.Status.HostIP != "" {
		t.Errorf("kept status no decision reads: %+v", pod.Status)
	}

	whole, err := bodies.restore(pod)
	if err != nil {
		t.Fatal(err)
	}
	want := fullPod("readygate.io/warm", "other.io/lb")
	if !equality.Semantic.DeepEqual(whole.Spec, want.Spec) || !equality.Semantic.DeepEqual(whole.Status, want.Status) {
		t.Errorf("restored spec and status differ from the pod's:\n%+v\n%+v", whole, want)
	}
	if whole.Name != "web-0" || whole.Annotations["team"] != "a" {
		t.Errorf("restored metadata is not the cached pod's: %+v", whole.ObjectMeta)
	}

	bodies.forget(pod.UID)
	if _, err := bodies.restore(pod); err == nil {
		t.Error("a forgotten pod's body is still kept")
	}
}

// TestTrimTwiceKeepsTheWholeBody: with watch-list streaming (client-go's
// default) the reflector transforms each listed object into a temporary
// store, and the informer's queue transforms it again on Replace, so the
// transform sees the pod it trimmed itself. It must not take that for the
// pod's whole body.
func TestTrimTwiceKeepsTheWholeBody(t *testing.T) {
	bodies := NewPodBodies()
	trim := trimPod(bodies)
	once, err := trim(fullPod("readygate.io/warm"))
	if err != nil {
		t.Fatal(err)
	}
	twice, err := trim(once)
	if err != nil {
		t.Fatal(err)
	}
	if !equality.Semantic.DeepEqual(once, twice) {
		t.Errorf("trimming a trimmed pod changed it:\n%+v\n%+v", once, twice)
	}
	whole, err := bodies.restore(twice.(*corev1.Pod))
	if err != nil {
		t.Fatal(err)
	}
	want := fullPod("readygate.io/warm")
	if !equality.Semantic.DeepEqual(whole.Spec, want.Spec) || !equality.Semantic.DeepEqual(whole.Status, want.Status) {
		t.Errorf("after a second transform, expressions read %+v, want the pod's whole spec and status", whole.Status)
	}
	changed := fullPod("readygate.io/warm")
	changed.ResourceVersion = "8"
	changed.Status.HostIP = "10.1.0.2"
	if _, err := trim(changed); err != nil {
		t.Fatal(err)
	}
	if whole, err := bodies.restore(changed); err != nil || whole.Status.HostIP != "10.1.0.2" {
		t.Errorf("a newer version of the pod did not replace its body: %v, %v", whole, err)
	}
}

func TestTrimTombstone(t *testing.T) {
	tombstone := toolscache.DeletedFinalStateUnknown{Key: "shop/web-0"}
	if got, err := trimPod(NewPodBodies())(tombstone); err != nil || got != tombstone {
		t.Fatalf("a tombstone came back as %v, %v", got, err)
	}
}

func TestOnGoneForgetsBodies(t *testing.T) {
	bodies := NewPodBodies()
	keep := func(uid types.UID) *corev1.Pod {
		pod := fullPod("readygate.io/warm")
		pod.UID = uid
		got, err := trimPod(bodies)(pod)
		if err != nil {
			t.Fatal(err)
		}
		return got.(*corev1.Pod)
	}
	var forgotten []types.UID // as the poller's targets are
	prune := onGone(byUID(bodies.forget), byUID(func(uid types.UID) { forgotten = append(forgotten, uid) }))
	first, same := keep("u1"), keep("u1")
	prune.OnUpdate(first, same)
	if !bodies.Holds("u1") {
		t.Fatal("an update of the same pod dropped its body")
	}
	replaced := keep("u2")
	prune.OnUpdate(first, replaced)
	if bodies.Holds("u1") || !bodies.Holds("u2") {
		t.Fatal("a pod replaced under its name by another UID (a relist's update) kept the old body or lost the new")
	}
	prune.OnDelete(toolscache.DeletedFinalStateUnknown{Key: "shop/web-0", Obj: replaced})
	if bodies.Holds("u2") {
		t.Fatal("a pod deleted while the watch was down (a tombstone) kept its body")
	}
	third := keep("u3")
	prune.OnDelete(third)
	if bodies.Holds("u3") {
		t.Fatal("a deleted pod kept its body")
	}
	if want := []types.UID{"u1", "u2", "u3"}; !slices.Equal(forgotten, want) {
		t.Fatalf("the second forget saw %v, want %v", forgotten, want)
	}
}
