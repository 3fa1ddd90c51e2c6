package rgp

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/readygate/readygate/api/v1alpha1"
	"github.com/readygate/readygate/internal/gate"
	"github.com/readygate/readygate/internal/podschema"
)

// requests records what a stand-in server was asked, headers included.
type requests struct {
	mu   sync.Mutex
	seen []string
}

func (r *requests) record(req *http.Request) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seen = append(r.seen, req.Method+" "+req.URL.Path+" authorization="+req.Header.Get("Authorization")+" impersonate="+req.Header.Get("Impersonate-User"))
}

func (r *requests) all() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.seen...)
}

// standInCluster is an API server whose pods/proxy passes on what the pod
// answers: here a redirect to another host, which kube-apiserver's proxy
// passes through as it is. It allows every access review.
func standInCluster(t *testing.T, redirectTo string, api *requests) *cluster {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		api.record(r)
		switch {
		case strings.HasSuffix(r.URL.Path, "/selfsubjectaccessreviews"):
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"apiVersion":"authorization.k8s.io/v1","kind":"SelfSubjectAccessReview","status":{"allowed":true}}`))
		case strings.Contains(r.URL.Path, "/proxy"):
			http.Redirect(w, r, redirectTo, http.StatusFound)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	cfg := &rest.Config{Host: srv.URL, BearerToken: "the-admins-token"}
	hc, err := httpClientFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme, HTTPClient: hc})
	if err != nil {
		t.Fatal(err)
	}
	env, err := podschema.CELEnv()
	if err != nil {
		t.Fatal(err)
	}
	return &cluster{client: c, config: cfg, http: hc, namespace: "tenant", env: env}
}

// TestExplainKeepsYourCredentials: a tenant's pod that answers with a
// redirect gets its redirect shown, not followed with the credentials of
// whoever runs explain; and a policy's headers cannot say who you are to
// the API server.
func TestExplainKeepsYourCredentials(t *testing.T) {
	var api, elsewhere requests
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { elsewhere.record(r) }))
	t.Cleanup(other.Close)
	c := standInCluster(t, other.URL+"/steal", &api)
	p := &v1alpha1.ReadinessGatePolicy{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "tenant"}, Spec: v1alpha1.ReadinessGatePolicySpec{
		Selector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}, ConditionType: "tenant.example/x",
		Expression: "http.statusCode == 200",
		Sources: &v1alpha1.Sources{HTTP: &v1alpha1.HTTPSource{PodEndpoint: v1alpha1.PodEndpoint{Port: intstr.FromInt32(8080), Path: "/ready"},
			Headers: []v1alpha1.HTTPHeader{{Name: "Impersonate-User", Value: "system:admin"}, {Name: "X-Tenant", Value: "kept"}}}},
	}}
	compiled := c.compile(p)
	if compiled.Err != nil {
		t.Fatal(compiled.Err)
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "tenant", Labels: map[string]string{"app": "web"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}}}}},
		Status:     corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.0.0.5"},
	}
	var g gathered
	(&liveSources{cluster: c}).http(context.Background(), &g, pod, compiled.Sources.HTTP)
	if seen := elsewhere.all(); len(seen) > 0 {
		t.Fatalf("the pod's redirect was followed: the other host saw %q", seen)
	}
	for _, s := range api.all() {
		if strings.Contains(s, "impersonate=system:admin") {
			t.Fatalf("a policy's Impersonate-User header reached the API server: %s", s)
		}
	}
	if len(g.shown) != 1 || g.shown[0].Error != "" {
		t.Fatalf("shown %+v, want the pod's answer", g.shown)
	}
	if status := g.shown[0].Value.(map[string]any)["statusCode"]; status != float64(http.StatusFound) {
		t.Fatalf("status %v, want the pod's 302 as its answer", status)
	}
}

// TestExplainDialsOnlyWhatTheOperatorWould: a finished pod's IP may be
// another pod's, a host-network pod is the node, and a Prometheus address,
// in the cluster or out, is read only once the operator accepted the
// policy as it is now.
func TestExplainDialsOnlyWhatTheOperatorWould(t *testing.T) {
	var api requests
	c := standInCluster(t, "http://127.0.0.1:1/", &api)
	live := &liveSources{cluster: c}
	p, err := loadPolicy("testdata/prometheus-policy.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	p.Spec.Sources.HTTP = &v1alpha1.HTTPSource{PodEndpoint: v1alpha1.PodEndpoint{Port: intstr.FromInt32(8080)}}
	p.Spec.Sources.Prometheus.Address = "http://vault.vault.svc:8200/v1/sys"
	compiled := c.compile(p)
	if compiled.Err != nil {
		t.Fatal(compiled.Err)
	}
	finished := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "done", Namespace: "tenant"}, Status: corev1.PodStatus{Phase: corev1.PodSucceeded, PodIP: "10.0.0.5"}}
	onTheNode := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "node", Namespace: "tenant"}, Spec: corev1.PodSpec{HostNetwork: true}, Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.1.0.1"}}
	for _, pod := range []*corev1.Pod{finished, onTheNode} {
		g := live.gather(context.Background(), compiled, pod, false)
		if g.instead == nil || g.instead.Outcome != gate.OutcomePending {
			t.Fatalf("pod %s: observation %+v, want the sources unread", pod.Name, g.instead)
		}
	}
	for _, s := range api.all() {
		if strings.Contains(s, "/proxy") {
			t.Fatalf("explain asked the API server to proxy: %s", s)
		}
	}

	p.Generation = 2
	p.Status.Conditions = []metav1.Condition{{Type: v1alpha1.ConditionAccepted, Status: metav1.ConditionTrue, ObservedGeneration: 1}}
	if acceptedAsItIs(p) {
		t.Fatal("an acceptance of generation 1 was taken for generation 2")
	}
	p.Status.Conditions[0].ObservedGeneration = 2
	if !acceptedAsItIs(p) {
		t.Fatal("the acceptance of the current generation was not taken")
	}
}

// TestPrintableEscapesWhatActsOnTheText: bidirectional overrides reorder a
// line as the terminal shows it, and separators break it. A byte that is
// not UTF-8 is a C1 control to a terminal that reads 8-bit controls (0x9b
// is CSI); explain evaluates messageExpression itself, and CEL makes such
// bytes (url('http://x/?m=%9B').getQuery()).
func TestPrintableEscapesWhatActsOnTheText(t *testing.T) {
	for in, want := range map[string]string{
		"ready\u202e)eslaf(":      `ready\u202e)eslaf(`,
		"a\u2028b\u2029c":         `a\u2028b\u2029c`,
		"\x1b]52;c;ZWNobw==\a":    `\x1b]52;c;ZWNobw==\a`,
		"\x9b2J\x9d52;c;eA==\x9c": `\x9b2J\x9d52;c;eA==\x9c`,
		"plain, ünïcode ✓ text":   "plain, ünïcode ✓ text",
		"a kept \ufffd":           "a kept \ufffd",
	} {
		if got := printable(in); got != want {
			t.Errorf("printable(%q) = %q, want %q", in, got, want)
		}
	}
}
