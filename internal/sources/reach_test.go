package sources

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/readygate/readygate/api/v1alpha1"
)

// loopbackPod returns a running pod whose IP and port are those of a real
// server on 127.0.0.1 that counts its requests.
func loopbackPod(t *testing.T) (*corev1.Pod, *atomic.Int32) {
	t.Helper()
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		_, _ = w.Write([]byte("ok"))
	}))
	t.Cleanup(srv.Close)
	host, port, err := net.SplitHostPort(srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	pod := &corev1.Pod{
		Spec:   corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: atoi32(t, port)}}}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: host},
	}
	return pod, &hits
}

func atoi32(t *testing.T, s string) int32 {
	t.Helper()
	p, err := net.LookupPort("tcp", s)
	if err != nil {
		t.Fatal(err)
	}
	return int32(p)
}

var httpEndpoint = v1alpha1.PodEndpoint{Port: intstr.FromString("http"), Path: "/ready"}

func mustCIDRs(t *testing.T, s string) CIDRs {
	t.Helper()
	var c CIDRs
	if err := c.Set(s); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestPodRequestFollowsTheReachRules(t *testing.T) {
	cases := []struct {
		name    string
		rules   Rules
		pod     func(*corev1.Pod)
		wantErr string // empty: the request is built and the server answers
	}{
		{name: "a loopback pod IP is refused with the default deny list", rules: Rules{Reach: Reach{DenyCIDRs: DefaultDenyCIDRs()}},
			wantErr: "is in 127.0.0.0/8, which readygate's --source-deny-cidrs denies"},
		{name: "a loopback pod IP is dialled with an empty deny list", rules: Rules{Reach: Reach{DenyCIDRs: mustCIDRs(t, "")}}},
		{name: "an IPv4-mapped loopback address is still loopback", rules: Rules{Reach: Reach{DenyCIDRs: DefaultDenyCIDRs()}},
			pod: func(p *corev1.Pod) { p.Status.PodIP = "::ffff:127.0.0.1" }, wantErr: "in 127.0.0.0/8"},
		{name: "a zoned link-local address is still link-local", rules: Rules{Reach: Reach{DenyCIDRs: DefaultDenyCIDRs()}},
			pod: func(p *corev1.Pod) { p.Status.PodIP = "fe80::1%eth0" }, wantErr: "in fe80::/10"},
		{name: "the metadata address is link-local", rules: Rules{Reach: Reach{DenyCIDRs: DefaultDenyCIDRs()}},
			pod: func(p *corev1.Pod) { p.Status.PodIP = "169.254.169.254" }, wantErr: "in 169.254.0.0/16"},
		{name: "an administrator's CIDR is refused before dialling", rules: Rules{Reach: Reach{DenyCIDRs: mustCIDRs(t, "198.51.100.0/24")}},
			pod: func(p *corev1.Pod) { p.Status.PodIP = "198.51.100.7" }, wantErr: "198.51.100.7 is in 198.51.100.0/24"},
		{name: "a Succeeded pod is not dialled", pod: func(p *corev1.Pod) { p.Status.Phase = corev1.PodSucceeded },
			wantErr: "the pod is Succeeded: its IP may belong to another pod now"},
		{name: "a Failed pod is not dialled", pod: func(p *corev1.Pod) { p.Status.Phase = corev1.PodFailed },
			wantErr: "the pod is Failed"},
		{name: "a hostNetwork pod is refused by default", pod: func(p *corev1.Pod) { p.Spec.HostNetwork = true },
			wantErr: "hostNetwork, so its IP is its node's: readygate dials it only when it runs with --allow-host-network-sources"},
		{name: "a hostNetwork pod is dialled when allowed", rules: Rules{Reach: Reach{AllowHostNetwork: true}},
			pod: func(p *corev1.Pod) { p.Spec.HostNetwork = true }},
		{name: "a pod IP that is no IP", pod: func(p *corev1.Pod) { p.Status.PodIP = "pod.evil.example" }, wantErr: "is not an IP address"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pod, hits := loopbackPod(t)
			if tc.pod != nil {
				tc.pod(pod)
			}
			c := NewClient(tc.rules)
			req, err := c.NewRequest(pod, httpEndpoint, "/")
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				// readygate's refusal is no verdict on the pod (rule 4): a
				// changed flag must not flip True gates False.
				if !errors.Is(err, ErrNoVerdict) {
					t.Fatalf("err = %v, want it to carry ErrNoVerdict", err)
				}
				if hits.Load() != 0 {
					t.Fatal("the pod was dialled")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			res, err := c.FetchHTTP(context.Background(), req)
			if err != nil || res.Body != "ok" || hits.Load() != 1 {
				t.Fatalf("fetch: %v %q, %d requests", err, res.Body, hits.Load())
			}
		})
	}
}

// The dial-time check holds whatever URL a request names: a request built
// by hand, or a name that resolves into a denied network.
func TestDialTimeCheckRefusesDeniedAddresses(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	t.Cleanup(srv.Close)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	c := NewClient(Rules{Reach: Reach{DenyCIDRs: DefaultDenyCIDRs()}})
	for _, u := range []string{srv.URL, "http://localhost:" + port} {
		_, err := c.FetchHTTP(context.Background(), Request{URL: u + "/", Timeout: time.Second})
		// localhost may resolve to ::1 first: either loopback is denied.
		if err == nil || !strings.Contains(err.Error(), "refused: ") || !strings.Contains(err.Error(), "which readygate's --source-deny-cidrs denies") {
			t.Fatalf("%s: err = %v", u, err)
		}
	}
	if hits.Load() != 0 {
		t.Fatalf("%d requests reached the server", hits.Load())
	}
}

func TestCIDRsFlagValue(t *testing.T) {
	var c CIDRs
	if err := c.Set(" 10.0.0.0/8 , fd00::1/8,"); err != nil || c.String() != "10.0.0.0/8,fd00::/8" {
		t.Fatalf("Set: %v, %q", err, c.String())
	}
	if err := c.Set(""); err != nil || len(c) != 0 {
		t.Fatalf("an empty value must deny nothing: %v %v", err, c)
	}
	if err := c.Set("10.0.0.0/8,nope"); err == nil || !strings.Contains(err.Error(), `"nope" is not a CIDR`) {
		t.Fatalf("err = %v", err)
	}
}
