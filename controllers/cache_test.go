package controllers

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	toolscache "k8s.io/client-go/tools/cache"
)

func TestTrimPod(t *testing.T) {
	full := func(gates ...corev1.PodReadinessGate) *corev1.Pod {
		return &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "web-0", Namespace: "shop", UID: "u1", ResourceVersion: "7",
				Labels:        map[string]string{"app": "web"},
				Annotations:   map[string]string{corev1.LastAppliedConfigAnnotation: "{}", "team": "a"},
				ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl"}}},
			Spec:   corev1.PodSpec{ReadinessGates: gates, Containers: []corev1.Container{{Name: "app", Image: "app:1"}}},
			Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.0.0.7"},
		}
	}

	got, _ := trimPod(full())
	ungated := got.(*corev1.Pod)
	if ungated.Name != "web-0" || ungated.Namespace != "shop" || ungated.UID != "u1" || ungated.Labels["app"] != "web" ||
		ungated.Status.Phase != corev1.PodRunning {
		t.Fatalf("an ungated pod lost what selection and Events need: %+v", ungated)
	}
	if ungated.Annotations != nil || ungated.ManagedFields != nil || len(ungated.Spec.Containers) != 0 || ungated.Status.PodIP != "" {
		t.Fatalf("an ungated pod kept what no decision reads: %+v", ungated)
	}

	got, _ = trimPod(full(corev1.PodReadinessGate{ConditionType: "readygate.io/warm"}))
	gated := got.(*corev1.Pod)
	if gated.ManagedFields != nil || gated.Annotations[corev1.LastAppliedConfigAnnotation] != "" {
		t.Fatalf("a gated pod kept managed fields or the last-applied annotation: %+v", gated.ObjectMeta)
	}
	if gated.Annotations["team"] != "a" || len(gated.Spec.Containers) != 1 || gated.Status.PodIP != "10.0.0.7" {
		t.Fatalf("a gated pod lost fields an expression may read: %+v", gated)
	}

	tombstone := toolscache.DeletedFinalStateUnknown{Key: "shop/web-0"}
	if got, err := trimPod(tombstone); err != nil || got != tombstone {
		t.Fatalf("a tombstone came back as %v, %v", got, err)
	}
}
