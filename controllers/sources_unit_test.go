package controllers

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/readygate/readygate/api/v1alpha1"
	"github.com/readygate/readygate/internal/gate"
	"github.com/readygate/readygate/internal/policy"
	"github.com/readygate/readygate/internal/sources"
)

// TestAPolicysEditsReplaceItsPodsPolls: each generation of a policy asks
// for a new poll of each of its pods (the request is the poll's key); the
// poll it asked for before is dropped at once, not after three intervals.
func TestAPolicysEditsReplaceItsPodsPolls(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	poller := sources.NewPoller(4, sources.BytesInFlight)
	go func() { _ = poller.Start(ctx) }()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) }))
	t.Cleanup(srv.Close)
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	host, portText, err := net.SplitHostPort(u.Host)
	if err != nil {
		t.Fatal(err)
	}
	port, err := strconv.Atoi(portText)
	if err != nil {
		t.Fatal(err)
	}
	g := &sourceGatherer{poller: poller, http: sources.NewClient(sources.Rules{}), enqueuePod: func(client.ObjectKey) {}}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop", UID: "u1"},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: host}}
	for gen := range 5 {
		c := &policy.Compiled{Name: "p", Namespace: "shop", UID: "p1", Generation: int64(gen + 1),
			Settings: gate.Settings{Thresholds: gate.Thresholds{Interval: time.Minute}},
			Sources: &v1alpha1.Sources{HTTP: &v1alpha1.HTTPSource{PodEndpoint: v1alpha1.PodEndpoint{Port: intstr.FromInt32(int32(port))},
				Headers: []v1alpha1.HTTPHeader{{Name: "X-Generation", Value: strconv.Itoa(gen)}}}}}
		if v := g.httpValue(c, pod); v.err != nil {
			t.Fatal(v.err)
		}
	}
	if n := poller.Len(); n != 1 {
		t.Fatalf("%d polls of the pod after five generations of its policy, want 1", n)
	}
}
