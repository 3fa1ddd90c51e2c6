package manifests

import (
	"os"
	"path/filepath"
	"reflect"
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

// broad is the selector of 0.1.0, kubebuilder's label alone.
var broad = map[string]any{"control-plane": "controller-manager"}

// broadOnPurpose are the kustomize selectors that stay 0.1.0's on purpose,
// and why. A kustomize install has readygate-system to itself, where broad
// selects only readygate's pods; every pod carries nameLabel from this
// release on, so a later release can narrow these without a gap.
var broadOnPurpose = map[string]string{
	"Deployment readygate-controller-manager spec.selector.matchLabels":          "a Deployment's selector is immutable: kubectl apply -k over an install would fail",
	"Service readygate-webhook-service spec.selector":                            "narrowed before the new pods exist, the webhook has no endpoint during the rollout, and pods created then get no gate",
	"PodDisruptionBudget readygate-controller-manager spec.selector.matchLabels": "narrowed, it leaves the old pods out during the rollout, and a drain then may evict both at once",
}

// podSelectors returns, for each object that selects the manager's pods (or,
// for a ServiceMonitor, its Service), where and what it selects.
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
		case "PodDisruptionBudget", "ServiceMonitor":
			at("spec", "selector", "matchLabels")
		}
	}
	return out
}

// checkSelectors checks that each selector names readygate, but those
// broadOnPurpose, which must be 0.1.0's as they are.
func checkSelectors(t *testing.T, where string, objs []map[string]any, wantAtLeast int, broadOnPurpose map[string]string) {
	t.Helper()
	selectors := podSelectors(objs)
	if len(selectors) < wantAtLeast {
		t.Fatalf("%s: found %d pod selectors, want at least %d: %v", where, len(selectors), wantAtLeast, selectors)
	}
	for at, sel := range selectors {
		if why, ok := broadOnPurpose[at]; ok {
			if !reflect.DeepEqual(sel, broad) {
				t.Errorf("%s: %s selects %v, want 0.1.0's %v: %s", where, at, sel, broad, why)
			}
			continue
		}
		labels, _ := sel.(map[string]any)
		if labels[nameLabel] != "readygate" {
			t.Errorf("%s: %s is %v, without %s=readygate: on kubebuilder's label alone it takes any kubebuilder operator's pods in the namespace as readygate's", where, at, sel, nameLabel)
		}
	}
	for at := range broadOnPurpose {
		if selectors[at] == nil {
			t.Errorf("%s: no %s, which should stay broad", where, at)
		}
	}
}

// TestKustomizeSelectors: the kustomize installs label every pod with
// readygate's name, and select with it wherever narrowing is safe during
// the upgrade's rollout (the metrics Service and the ServiceMonitor: a
// scrape gap at most; the anti-affinity, in the pod template the rollout
// replaces); the others stay 0.1.0's on purpose (broadOnPurpose).
func TestKustomizeSelectors(t *testing.T) {
	root := filepath.Join("..", "..")
	for _, dir := range []string{"operator", "default"} {
		// The Deployment (selector, template, anti-affinity), the webhook and
		// metrics Services, the PodDisruptionBudget.
		checkSelectors(t, "config/"+dir, build(t, filepath.Join(root, "config", dir)), 6, broadOnPurpose)
	}
	// And the ServiceMonitor.
	checkSelectors(t, "config/default-with-prometheus", build(t, filepath.Join(root, "config", "default-with-prometheus")), 7, broadOnPurpose)
}

// bundleObjects reads a bundle's manifests, with each of the CSV's
// deployments as the Deployment OLM makes of it.
func bundleObjects(t *testing.T, dir string) []map[string]any {
	t.Helper()
	var out []map[string]any
	entries, err := os.ReadDir(filepath.Join(dir, "manifests"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		raw, err := os.ReadFile(filepath.Join(dir, "manifests", e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		objs, err := objects.Parse(raw)
		if err != nil {
			t.Fatalf("%s: %v", e.Name(), err)
		}
		for _, o := range objs {
			if o["kind"] != "ClusterServiceVersion" {
				out = append(out, o)
				continue
			}
			for _, d := range objects.Dig(o, "spec", "install", "spec", "deployments").([]any) {
				out = append(out, map[string]any{"kind": "Deployment", "metadata": map[string]any{"name": objects.Dig(d, "name")}, "spec": objects.Dig(d, "spec")})
			}
		}
	}
	return out
}

// TestBundleSelectors: in OLM's shared namespace every selector of the
// bundle names readygate, and a CSV deployment whose selector is not
// 0.1.0's has a name of its own: OLM updates a deployment of the same name
// in place, which fails for good on a changed selector, and creates one of
// a new name, deleting the old with 0.1.0's CSV.
func TestBundleSelectors(t *testing.T) {
	current := bundleObjects(t, filepath.Join("..", "..", "bundle"))
	// The CSV's deployment (selector, template, anti-affinity), the metrics
	// Service, the PodDisruptionBudget.
	checkSelectors(t, "bundle", current, 5, nil)

	// 0.1.0's bundle, which test/install upgrades from.
	old := podSelectors(bundleObjects(t, filepath.Join("..", "install", "testdata", "bundle-0.1.0")))
	for at, sel := range podSelectors(current) {
		if before, ok := old[at]; ok && strings.HasPrefix(at, "Deployment ") && strings.HasSuffix(at, " spec.selector.matchLabels") && !reflect.DeepEqual(before, sel) {
			t.Errorf("bundle: %s selects %v, 0.1.0's deployment of that name %v: OLM's update of it would fail (field is immutable); name the deployment anew", at, sel, before)
		}
	}
}
