package manifests

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/readygate/readygate/test/objects"
)

// nameLabel is the label that tells readygate's pods from other operators'.
// control-plane: controller-manager alone is kubebuilder's scaffold label,
// which most operators built with it carry too: under OLM they share the
// `operators` namespace with readygate, and a Service or a
// PodDisruptionBudget that selects on it alone takes their pods as
// readygate's (OLM's webhook Service takes the CSV deployment's selector).
const nameLabel = "app.kubernetes.io/name"

// podSelectors returns, for each object that selects the manager's pods,
// where and what it selects.
func podSelectors(objs []map[string]any) map[string]any {
	out := map[string]any{}
	for _, o := range objs {
		kind, name := o["kind"].(string), objects.Dig(o, "metadata", "name")
		at := func(path ...string) {
			if v := objects.Dig(o, path...); v != nil {
				out[kind+" "+name.(string)+" "+strings.Join(path, ".")] = v
			}
		}
		switch kind {
		case "Deployment":
			at("spec", "selector", "matchLabels")
			at("spec", "template", "metadata", "labels")
			if terms, ok := objects.Dig(o, "spec", "template", "spec", "affinity", "podAntiAffinity", "preferredDuringSchedulingIgnoredDuringExecution").([]any); ok {
				for _, term := range terms {
					out[kind+" "+name.(string)+" podAntiAffinity"] = objects.Dig(term, "podAffinityTerm", "labelSelector", "matchLabels")
				}
			}
		case "Service":
			at("spec", "selector")
		case "PodDisruptionBudget":
			at("spec", "selector", "matchLabels")
		case "ServiceMonitor":
			at("spec", "selector", "matchLabels")
		}
	}
	return out
}

func checkSelectors(t *testing.T, where string, objs []map[string]any, wantAtLeast int) {
	t.Helper()
	selectors := podSelectors(objs)
	if len(selectors) < wantAtLeast {
		t.Fatalf("%s: found %d pod selectors, want at least %d: %v", where, len(selectors), wantAtLeast, selectors)
	}
	for at, sel := range selectors {
		labels, _ := sel.(map[string]any)
		if labels[nameLabel] != "readygate" {
			t.Errorf("%s: %s selects %v: without %s=readygate it takes any kubebuilder operator's pods in the namespace as readygate's", where, at, sel, nameLabel)
		}
	}
}

// TestPodSelectorsAreReadygatesOwn: every Service, PodDisruptionBudget,
// ServiceMonitor and anti-affinity term that selects the manager's pods, and
// the Deployment's selector (from which OLM makes the webhook Service),
// names readygate, in config/ and in the bundle.
func TestPodSelectorsAreReadygatesOwn(t *testing.T) {
	root := filepath.Join("..", "..")
	// The Deployment (selector, template, anti-affinity), the webhook and
	// metrics Services, the PodDisruptionBudget.
	checkSelectors(t, "config/operator", build(t, filepath.Join(root, "config", "operator")), 6)
	// And the ServiceMonitor.
	checkSelectors(t, "config/default-with-prometheus", build(t, filepath.Join(root, "config", "default-with-prometheus")), 7)

	var bundle []map[string]any
	dir := filepath.Join(root, "bundle", "manifests")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		raw, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		objs, err := objects.Parse(raw)
		if err != nil {
			t.Fatalf("%s: %v", e.Name(), err)
		}
		for _, o := range objs {
			if o["kind"] != "ClusterServiceVersion" {
				bundle = append(bundle, o)
				continue
			}
			// The CSV's deployment, as OLM creates it.
			for _, d := range objects.Dig(o, "spec", "install", "spec", "deployments").([]any) {
				bundle = append(bundle, map[string]any{"kind": "Deployment", "metadata": map[string]any{"name": objects.Dig(d, "name")}, "spec": objects.Dig(d, "spec")})
			}
		}
	}
	// The CSV's deployment (selector, template, anti-affinity), the metrics
	// Service, the PodDisruptionBudget.
	checkSelectors(t, "bundle", bundle, 5)
}
