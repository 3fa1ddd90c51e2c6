package podcache

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"
)

func TestIndexReadsBothKindsOfEntry(t *testing.T) {
	store := toolscache.NewIndexer(toolscache.MetaNamespaceKeyFunc, toolscache.Indexers{toolscache.NamespaceIndex: toolscache.MetaNamespaceIndexFunc})
	gated := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web-0", Namespace: "shop", Labels: map[string]string{"app": "web"}},
		Spec: corev1.PodSpec{ReadinessGates: []corev1.PodReadinessGate{{ConditionType: "readygate.io/warm"}}}}
	finished := &Ungated{
		PartialObjectMetadata: metav1.PartialObjectMetadata{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
			ObjectMeta: metav1.ObjectMeta{Name: "job-0", Namespace: "shop", UID: "u2", Labels: map[string]string{"app": "web"}}},
		Phase: corev1.PodSucceeded,
	}
	other := &Ungated{PartialObjectMetadata: metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Name: "db-0", Namespace: "shop"}}}
	for _, obj := range []any{gated, finished, other} {
		if err := store.Add(obj); err != nil {
			t.Fatal(err)
		}
	}
	x := &Index{store: store}

	if got, ok := x.Get(types.NamespacedName{Namespace: "shop", Name: "web-0"}); !ok || got != gated {
		t.Errorf("a gated pod came back as %v, %t; want the cached pod itself", got, ok)
	}
	got, ok := x.Get(types.NamespacedName{Namespace: "shop", Name: "job-0"})
	if !ok || got.Name != "job-0" || got.UID != "u2" || got.Kind != "Pod" || got.Status.Phase != corev1.PodSucceeded {
		t.Errorf("an ungated pod came back as %+v, %t; want its metadata, kind and phase", got, ok)
	}
	if _, ok := x.Get(types.NamespacedName{Namespace: "shop", Name: "gone"}); ok {
		t.Error("a pod the cache does not hold was found")
	}
	sel, err := labels.Parse("app=web")
	if err != nil {
		t.Fatal(err)
	}
	selected, err := x.Selected("shop", sel)
	if err != nil || len(selected) != 2 {
		t.Fatalf("Selected = %v, %v; want web-0 and job-0", selected, err)
	}
}

func TestUngatedDeepCopyKeepsThePhase(t *testing.T) {
	u := &Ungated{PartialObjectMetadata: metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Name: "job-0", Labels: map[string]string{"a": "b"}}}, Phase: corev1.PodFailed}
	c, ok := u.DeepCopyObject().(*Ungated)
	if !ok || c.Phase != corev1.PodFailed || c.Name != "job-0" {
		t.Fatalf("copy = %#v", c)
	}
	c.Labels["a"] = "changed"
	if u.Labels["a"] != "b" {
		t.Fatal("the copy shares the labels")
	}
}
