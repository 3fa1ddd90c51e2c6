package podcache

import (
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"
)

func TestIndexReadsBothKindsOfEntry(t *testing.T) {
	store := toolscache.NewIndexer(toolscache.MetaNamespaceKeyFunc, toolscache.Indexers{toolscache.NamespaceIndex: toolscache.MetaNamespaceIndexFunc})
	body, err := EncodeBody(&corev1.Pod{Status: corev1.PodStatus{HostIP: "10.1.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	gated := &Gated{
		PartialObjectMetadata: metav1.PartialObjectMetadata{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
			ObjectMeta: metav1.ObjectMeta{Name: "web-0", Namespace: "shop", UID: "u1", Labels: map[string]string{"app": "web"}}},
		Gates:      []corev1.PodReadinessGate{{ConditionType: "readygate.io/warm"}},
		Conditions: []corev1.PodCondition{{Type: "readygate.io/warm", Status: corev1.ConditionFalse}},
		Phase:      corev1.PodRunning, PodIP: "10.0.0.7",
		Body: body,
	}
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

	web, ok := x.Get(types.NamespacedName{Namespace: "shop", Name: "web-0"})
	if !ok || web.UID != "u1" || web.Kind != "Pod" || web.Status.PodIP != "10.0.0.7" || len(web.Spec.ReadinessGates) != 1 ||
		len(web.Status.Conditions) != 1 {
		t.Errorf("a gated pod came back as %+v, %t; want its metadata, gates, conditions and IP", web, ok)
	}
	whole, err := x.Whole(web)
	if err != nil || whole.Status.HostIP != "10.1.0.1" || whole.Name != "web-0" {
		t.Errorf("the whole pod came back as %+v, %v", whole, err)
	}
	replaced := web.DeepCopy()
	replaced.UID = "u0"
	if _, err := x.Whole(replaced); err == nil {
		t.Error("a pod replaced under its name was given the new pod's spec and status")
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

func TestIndexedWithinANamespace(t *testing.T) {
	store := toolscache.NewIndexer(toolscache.MetaNamespaceKeyFunc, toolscache.Indexers{})
	x := &Index{store: store}
	entry := func(ns, name string, gates ...corev1.PodConditionType) *Gated {
		g := &Gated{PartialObjectMetadata: metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}}
		for _, c := range gates {
			g.Gates = append(g.Gates, corev1.PodReadinessGate{ConditionType: c})
		}
		return g
	}
	if err := store.Add(entry("shop", "web-0", "x/a")); err != nil {
		t.Fatal(err)
	}
	// Added after the store has entries, as the manager's informer has.
	if err := x.AddIndex("gates", func(o metav1.Object) []string {
		gates, _ := Readiness(o)
		out := make([]string, 0, len(gates))
		for _, g := range gates {
			out = append(out, string(g.ConditionType))
		}
		return out
	}); err != nil {
		t.Fatal(err)
	}
	for _, g := range []*Gated{entry("shop", "web-1", "x/a", "x/b"), entry("bank", "web-0", "x/a")} {
		if err := store.Add(g); err != nil {
			t.Fatal(err)
		}
	}
	got, err := x.Indexed("gates", "shop", "x/a")
	if err != nil {
		t.Fatal(err)
	}
	names := make([]string, 0, len(got))
	for _, o := range got {
		names = append(names, o.GetNamespace()+"/"+o.GetName())
	}
	slices.Sort(names)
	if want := []string{"shop/web-0", "shop/web-1"}; !slices.Equal(names, want) {
		t.Fatalf("Indexed = %v, want %v: the namespace's entries only", names, want)
	}
}
