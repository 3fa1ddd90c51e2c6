package controllers

import (
	"reflect"
	"slices"
	"testing"
	"unsafe"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"

	"github.com/readygate/readygate/api/v1alpha1"
	"github.com/readygate/readygate/internal/podcache"
	"github.com/readygate/readygate/internal/sources"
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

// cached is the entry the cache keeps of pod.
func cached(t *testing.T, pod *corev1.Pod) metav1.Object {
	t.Helper()
	got, err := trimPod(podcache.NewInterner(), pod)
	if err != nil {
		t.Fatal(err)
	}
	return got.(metav1.Object)
}

// TestTrimSharesWhatPodsRepeat: a ReplicaSet's pods, decoded each into
// strings and maps of its own, share one copy of their labels, annotations,
// namespace, owner and condition reasons in the cache.
func TestTrimSharesWhatPodsRepeat(t *testing.T) {
	shared := podcache.NewInterner()
	entry := func(name string, gates ...corev1.PodConditionType) metav1.Object {
		pod := fullPod(gates...)
		pod.Name = name
		pod.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "web-5d4f", UID: "rs1"}}
		pod.Status.Conditions[1].Reason = "ContainersNotReady"
		got, err := trimPod(shared, decodedPod(t, pod))
		if err != nil {
			t.Fatal(err)
		}
		return got.(metav1.Object)
	}
	for _, gates := range [][]corev1.PodConditionType{nil, {"readygate.io/warm"}} {
		a, b := entry("web-0", gates...), entry("web-1", gates...)
		if reflect.ValueOf(a.GetLabels()).UnsafePointer() != reflect.ValueOf(b.GetLabels()).UnsafePointer() {
			t.Errorf("gates %v: two pods of one template hold two label maps", gates)
		}
		if unsafe.StringData(a.GetNamespace()) != unsafe.StringData(b.GetNamespace()) {
			t.Errorf("gates %v: two pods of one namespace hold two copies of its name", gates)
		}
		if a.GetName() != "web-0" || b.GetName() != "web-1" || b.GetLabels()["app"] != "web" {
			t.Errorf("gates %v: entries lost what is their own: %s %s %v", gates, a.GetName(), b.GetName(), b.GetLabels())
		}
	}
	a, b := entry("web-0", "readygate.io/warm").(*podcache.Gated), entry("web-1", "readygate.io/warm").(*podcache.Gated)
	if reflect.ValueOf(a.Annotations).UnsafePointer() != reflect.ValueOf(b.Annotations).UnsafePointer() ||
		unsafe.StringData(a.OwnerReferences[0].Name) != unsafe.StringData(b.OwnerReferences[0].Name) ||
		unsafe.StringData(a.Conditions[0].Reason) != unsafe.StringData(b.Conditions[0].Reason) {
		t.Error("two gated pods of one template hold their own annotations, owner or condition reasons")
	}
	if a.Conditions[0].Reason != "ContainersNotReady" || a.OwnerReferences[0].Name != "web-5d4f" {
		t.Errorf("shared values changed: %+v %+v", a.Conditions[0], a.OwnerReferences[0])
	}
}

// decodedPod is a copy of pod as a watch decodes it, every string its own.
func decodedPod(t testing.TB, pod *corev1.Pod) *corev1.Pod {
	t.Helper()
	data, err := pod.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	p := &corev1.Pod{}
	if err := p.Unmarshal(data); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestTrimUngatedPod(t *testing.T) {
	got := cached(t, fullPod())
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
}

func TestTrimGatedPod(t *testing.T) {
	entry, ok := cached(t, fullPod("readygate.io/warm", "other.io/lb")).(*podcache.Gated)
	if !ok {
		t.Fatalf("a gated pod is cached as %T", entry)
	}
	if entry.APIVersion != "v1" || entry.Kind != "Pod" {
		t.Errorf("a gated pod's Events would name a %s %s, want a v1 Pod", entry.APIVersion, entry.Kind)
	}
	pod := entry.Pod()
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
	// The sources find a named port among the containers first, then the
	// native sidecars; a plain init container's ports are never served.
	for port, want := range map[string]int32{"http": 8080, "http-envoy-prom": 15090} {
		if got, err := sources.ResolveEndpoint(pod, v1alpha1.PodEndpoint{Port: intstr.FromString(port)}, "/"); err != nil || got.Port != want {
			t.Errorf("port %q resolves to %v, %v; want %d", port, got.Port, err, want)
		}
	}
	if _, err := sources.ResolveEndpoint(pod, v1alpha1.PodEndpoint{Port: intstr.FromString("migrate")}, "/"); err == nil {
		t.Error("an init container's port was resolved: it serves nothing while the pod runs")
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

	whole, err := entry.Whole()
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
}

// TestTrimTwiceKeepsTheWholeBody: with watch-list streaming (client-go's
// default) the reflector transforms each listed object into a temporary
// store, and the informer's queue transforms it again on Replace, so the
// transform sees the entry it made itself. It must not take that for the
// pod's whole body.
func TestTrimTwiceKeepsTheWholeBody(t *testing.T) {
	once := cached(t, fullPod("readygate.io/warm"))
	twice, err := trimPod(podcache.NewInterner(), once)
	if err != nil {
		t.Fatal(err)
	}
	if twice != once {
		t.Fatalf("trimming the cache's own entry made another: %+v", twice)
	}
	whole, err := twice.(*podcache.Gated).Whole()
	if err != nil {
		t.Fatal(err)
	}
	if want := fullPod("readygate.io/warm"); !equality.Semantic.DeepEqual(whole.Status, want.Status) {
		t.Errorf("after a second transform, expressions read %+v, want the pod's whole status", whole.Status)
	}
}

func TestTrimTombstone(t *testing.T) {
	tombstone := toolscache.DeletedFinalStateUnknown{Key: "shop/web-0"}
	if got, err := trimPod(podcache.NewInterner(), tombstone); err != nil || got != tombstone {
		t.Fatalf("a tombstone came back as %v, %v", got, err)
	}
}

func TestOnGoneForgetsWithEveryForget(t *testing.T) {
	var first, second []types.UID
	prune := onGone(byUID(func(uid types.UID) { first = append(first, uid) }), byUID(func(uid types.UID) { second = append(second, uid) }))
	pod := func(uid types.UID) metav1.Object {
		p := fullPod("readygate.io/warm")
		p.UID = uid
		return cached(t, p)
	}
	prune.OnUpdate(pod("u1"), pod("u1"))
	if len(first) != 0 {
		t.Fatalf("an update of the same pod forgot it: %v", first)
	}
	replaced := pod("u2")
	prune.OnUpdate(pod("u1"), replaced) // a pod replaced under its name, as a relist reports it
	prune.OnDelete(toolscache.DeletedFinalStateUnknown{Key: "shop/web-0", Obj: replaced})
	prune.OnDelete(pod("u3"))
	if want := []types.UID{"u1", "u2", "u3"}; !slices.Equal(first, want) || !slices.Equal(second, want) {
		t.Fatalf("forgot %v and %v, want %v in both: the replaced, the tombstone's and the deleted pod", first, second, want)
	}
}
