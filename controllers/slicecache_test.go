package controllers

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/readygate/readygate/internal/sources"
)

// tenantSlice is an EndpointSlice as a namespace tenant may write one: every
// field the API allows, at length.
func tenantSlice(endpoints int) *discoveryv1.EndpointSlice {
	long := strings.Repeat("x", 250)
	s := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Name: "web-abc", Namespace: "shop", UID: "s1", ResourceVersion: "9",
			Labels:          map[string]string{discoveryv1.LabelServiceName: "web", "team": long},
			Annotations:     map[string]string{"big": strings.Repeat("a", 250<<10)},
			OwnerReferences: []metav1.OwnerReference{{Kind: "Service", Name: "web"}}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To[int32](8080), Protocol: ptr.To(corev1.ProtocolTCP)}},
	}
	for i := range endpoints {
		name := "web-0"
		if i > 0 {
			name = long
		}
		s.Endpoints = append(s.Endpoints, discoveryv1.Endpoint{
			Addresses:  []string{"10.0.0.7", "10.0.0.8"},
			Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true), Serving: ptr.To(true), Terminating: ptr.To(false)},
			Hostname:   ptr.To(long), NodeName: ptr.To(long), Zone: ptr.To(long),
			TargetRef: &corev1.ObjectReference{Kind: "Pod", Name: name, UID: "u1", Namespace: "shop", FieldPath: long, ResourceVersion: long},
		})
	}
	s.Endpoints = append(s.Endpoints, discoveryv1.Endpoint{Addresses: []string{"10.0.0.9"}, Hostname: ptr.To(long)})
	return s
}

// TestTrimSliceKeepsWhatEndpointsRead: the cached slice gives the
// endpoints source and the pod index what the whole slice gives, but for
// an endpoint's addresses, of which it keeps the first.
func TestTrimSliceKeepsWhatEndpointsRead(t *testing.T) {
	full := tenantSlice(3)
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web-0", Namespace: "shop", UID: "u1"}}
	want, wantPods := sources.EndpointsOf([]discoveryv1.EndpointSlice{*full}, pod), slicePods(full)
	for i := range want { // the first of an endpoint's fungible addresses
		want[i].Addresses = want[i].Addresses[:1]
	}
	got, err := trimSlice(full.DeepCopy())
	if err != nil {
		t.Fatal(err)
	}
	trimmed := got.(*discoveryv1.EndpointSlice)
	if e := sources.EndpointsOf([]discoveryv1.EndpointSlice{*trimmed}, pod); !equality.Semantic.DeepEqual(e, want) {
		t.Fatalf("endpoints of the trimmed slice %+v, want %+v", e, want)
	}
	if p := slicePods(trimmed); !equality.Semantic.DeepEqual(p, wantPods) {
		t.Fatalf("pods of the trimmed slice %v, want %v", p, wantPods)
	}
	if len(trimmed.Annotations) != 0 || len(trimmed.Labels) != 1 || len(trimmed.Endpoints) != 3 ||
		trimmed.Endpoints[0].Hostname != nil || trimmed.Endpoints[0].TargetRef.FieldPath != "" {
		t.Fatalf("the trimmed slice keeps what nothing reads: %+v", trimmed)
	}
	for _, e := range trimmed.Endpoints {
		if cap(e.Addresses) != 1 {
			t.Fatalf("an endpoint keeps an array of %d addresses", cap(e.Addresses))
		}
	}
	if again, _ := trimSlice(trimmed); again != trimmed {
		t.Fatal("a trimmed slice is trimmed again")
	}
}

// TestTrimSliceBoundsWhatATenantCosts: a slice of 1,000 endpoints with
// 250 KiB of annotations and every string at length costs the cache what
// its addresses and pod names do.
func TestTrimSliceBoundsWhatATenantCosts(t *testing.T) {
	full := tenantSlice(1000)
	got, err := trimSlice(full)
	if err != nil {
		t.Fatal(err)
	}
	trimmed := got.(*discoveryv1.EndpointSlice)
	size := trimmed.Size()
	if limit := 1000 * 300; size > limit {
		t.Fatalf("a trimmed tenant slice encodes to %d bytes, want at most %d", size, limit)
	}
	t.Logf("a tenant slice of 1,000 endpoints: %d bytes encoded after trimming", size)
}
