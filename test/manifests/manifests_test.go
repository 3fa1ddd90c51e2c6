// Package manifests checks that every kustomize overlay of config/ builds,
// and that what it builds keeps the promises of the install docs.
package manifests

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/readygate/readygate/test/objects"
)

func kustomize(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("KUSTOMIZE")
	if bin == "" {
		t.Fatal("KUSTOMIZE is not set: run the tests through `make test`, which builds kustomize")
	}
	return bin
}

// build runs kustomize build on a directory and returns its objects.
func build(t *testing.T, dir string) []map[string]any {
	t.Helper()
	out, err := exec.Command(kustomize(t), "build", dir).CombinedOutput()
	if err != nil {
		t.Fatalf("kustomize build %s: %v\n%s", dir, err, out)
	}
	objs, err := objects.Parse(out)
	if err != nil {
		t.Fatalf("%s: %v", dir, err)
	}
	return objs
}

func TestEveryOverlayBuilds(t *testing.T) {
	var dirs []string
	err := filepath.WalkDir(filepath.Join("..", "..", "config"), func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && d.Name() == "kustomization.yaml" {
			dirs = append(dirs, filepath.Dir(path))
		}
		return err
	})
	if err != nil || len(dirs) < 8 {
		t.Fatalf("found %d overlays (%v): %v", len(dirs), dirs, err)
	}
	for _, dir := range dirs {
		t.Run(strings.TrimPrefix(dir, filepath.Join("..", "..")+string(filepath.Separator)), func(t *testing.T) {
			if objs := build(t, dir); len(objs) == 0 {
				t.Fatal("builds nothing")
			}
		})
	}
}

func TestDefaultOverlay(t *testing.T) {
	objs := build(t, filepath.Join("..", "..", "config", "default"))
	kinds := map[string]map[string]any{}
	for _, o := range objs {
		kinds[o["kind"].(string)] = o
		if ns, _ := o["metadata"].(map[string]any)["namespace"].(string); ns != "" && ns != "readygate-system" {
			t.Errorf("%s in namespace %q", o["kind"], ns)
		}
	}
	for _, k := range []string{"CustomResourceDefinition", "Deployment", "ClusterRole", "ServiceAccount", "Service",
		"MutatingWebhookConfiguration", "ValidatingWebhookConfiguration", "Certificate", "Issuer"} {
		if kinds[k] == nil {
			t.Errorf("config/default builds no %s", k)
		}
	}
	dep := kinds["Deployment"]
	pod := dig(dep, "spec", "template", "spec").(map[string]any)
	if dig(pod, "securityContext", "runAsNonRoot") != true || dig(pod, "securityContext", "seccompProfile", "type") != "RuntimeDefault" {
		t.Errorf("the pod is not hardened: %v", pod["securityContext"])
	}
	c := pod["containers"].([]any)[0].(map[string]any)
	sc := c["securityContext"].(map[string]any)
	if sc["readOnlyRootFilesystem"] != true || sc["allowPrivilegeEscalation"] != false || dig(sc, "capabilities", "drop").([]any)[0] != "ALL" {
		t.Errorf("the container is not hardened: %v", sc)
	}
	for _, probe := range []string{"livenessProbe", "readinessProbe", "resources"} {
		if c[probe] == nil {
			t.Errorf("the manager has no %s", probe)
		}
	}
	if !strings.Contains(strings.Join(toStrings(c["args"]), " "), "--leader-elect") {
		t.Errorf("leader election is off: %v", c["args"])
	}
	for _, k := range []string{"MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"} {
		if dig(kinds[k], "metadata", "annotations", "cert-manager.io/inject-ca-from") != "readygate-system/readygate-serving-cert" {
			t.Errorf("%s gets no CA from cert-manager", k)
		}
	}
	checkSecureMetrics(t, objs, c)
	checkHighAvailability(t, objs, dep)
}

// checkHighAvailability: two replicas, spread over nodes where possible, and
// a disruption budget that lets a drain take only one at a time.
func checkHighAvailability(t *testing.T, objs []map[string]any, dep map[string]any) {
	if replicas := dig(dep, "spec", "replicas"); replicas != float64(2) {
		t.Errorf("the manager runs %v replicas, not 2", replicas)
	}
	pods, _ := dig(dep, "spec", "template", "metadata", "labels").(map[string]any)
	terms, _ := dig(dep, "spec", "template", "spec", "affinity", "podAntiAffinity", "preferredDuringSchedulingIgnoredDuringExecution").([]any)
	if len(terms) != 1 || dig(terms[0], "podAffinityTerm", "topologyKey") != "kubernetes.io/hostname" ||
		!selects(dig(terms[0], "podAffinityTerm", "labelSelector", "matchLabels"), pods) {
		t.Errorf("the replicas are not spread by hostname: %v", terms)
	}
	pdb := named(objs, "PodDisruptionBudget", "readygate-controller-manager")
	if dig(pdb, "spec", "maxUnavailable") != float64(1) || !selects(dig(pdb, "spec", "selector", "matchLabels"), pods) {
		t.Errorf("no PodDisruptionBudget of maxUnavailable 1 for the manager's pods: %v", pdb)
	}
}

// selects tells whether matchLabels, not empty, selects pods labelled so.
func selects(matchLabels any, labels map[string]any) bool {
	m, _ := matchLabels.(map[string]any)
	for k, v := range m {
		if labels[k] != v {
			return false
		}
	}
	return len(m) > 0
}

// checkSecureMetrics: the metrics endpoint is HTTPS with authentication and
// authorization, on the Service's port, with cert-manager's certificate, and
// the role a scraper needs is shipped.
func checkSecureMetrics(t *testing.T, objs []map[string]any, manager map[string]any) {
	args := toStrings(manager["args"])
	for _, want := range []string{"--metrics-secure", "--metrics-bind-address=:8443", "--metrics-cert-dir=/tmp/k8s-metrics-server/metrics-certs"} {
		if !slices.Contains(args, want) {
			t.Errorf("the manager's args lack %s: %s", want, args)
		}
	}
	svc := named(objs, "Service", "readygate-controller-manager-metrics-service")
	if port, _ := dig(svc, "spec", "ports").([]any); len(port) != 1 || dig(port[0], "port") != float64(8443) {
		t.Errorf("the metrics Service does not serve 8443: %v", svc)
	}
	reader := named(objs, "ClusterRole", "readygate-metrics-reader")
	if rules, _ := reader["rules"].([]any); len(rules) != 1 || dig(rules[0], "nonResourceURLs").([]any)[0] != "/metrics" {
		t.Errorf("readygate-metrics-reader does not grant get on /metrics: %v", reader)
	}
	if named(objs, "Certificate", "readygate-metrics-cert") == nil {
		t.Error("cert-manager issues no metrics certificate")
	}
}

func TestServiceMonitorScrapesHTTPSWithToken(t *testing.T) {
	monitor := named(build(t, filepath.Join("..", "..", "config", "prometheus")), "ServiceMonitor", "readygate-controller-manager-metrics-monitor")
	endpoints, _ := dig(monitor, "spec", "endpoints").([]any)
	if len(endpoints) != 1 {
		t.Fatalf("want one endpoint: %v", monitor)
	}
	e := endpoints[0]
	if dig(e, "scheme") != "https" || dig(e, "bearerTokenFile") != "/var/run/secrets/kubernetes.io/serviceaccount/token" ||
		dig(e, "tlsConfig", "serverName") != "readygate-controller-manager-metrics-service.readygate-system.svc" ||
		dig(e, "tlsConfig", "ca", "secret", "name") != "metrics-server-cert" {
		t.Errorf("the ServiceMonitor does not scrape HTTPS with the service account token and the metrics certificate's CA: %v", e)
	}
	// The alerts select the job by this name (config/prometheus/rules.yaml).
	relabel, _ := dig(e, "relabelings").([]any)
	if len(relabel) != 1 || dig(relabel[0], "targetLabel") != "job" || dig(relabel[0], "replacement") != "readygate" {
		t.Errorf("the ServiceMonitor does not name the job readygate: %v", e)
	}
}

// named finds an object by kind and name, or nil.
func named(objs []map[string]any, kind, name string) map[string]any {
	return objects.Named(objs, kind, name)
}

func dig(v any, path ...string) any { return objects.Dig(v, path...) }

func toStrings(v any) []string {
	items := v.([]any)
	out := make([]string, 0, len(items))
	for _, s := range items {
		out = append(out, s.(string))
	}
	return out
}
