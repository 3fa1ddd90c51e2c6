package bundle

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/operator-framework/api/pkg/manifests"
	"sigs.k8s.io/yaml"
)

var root = filepath.Join("..", "..")

// releaseOptions reads back from the committed bundle the options it was
// generated with, so that regenerating it must reproduce it byte for byte.
func releaseOptions(t *testing.T) Options {
	t.Helper()
	b, err := manifests.GetBundleFromDir(filepath.Join(root, "bundle"))
	if err != nil {
		t.Fatal(err)
	}
	icon, err := os.ReadFile(filepath.Join(root, "config", "manifests", "icon.svg"))
	if err != nil {
		t.Fatal(err)
	}
	return Options{
		Version: b.CSV.Spec.Version.String(), Replaces: b.CSV.Spec.Replaces, Image: b.CSV.Annotations["containerImage"], Icon: icon,
		Package: b.Package, Channels: b.Channels, DefaultChannel: b.DefaultChannel,
	}
}

func TestCommittedBundleIsGeneratedFromConfig(t *testing.T) {
	kustomize := os.Getenv("KUSTOMIZE")
	if kustomize == "" {
		t.Fatal("KUSTOMIZE is not set: run the tests through `make test`, which builds kustomize")
	}
	built, err := exec.Command(kustomize, "build", filepath.Join(root, "config", "manifests")).Output()
	if err != nil {
		t.Fatalf("kustomize build config/manifests: %v", err)
	}
	files, err := Generate(built, releaseOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	generated := map[string]bool{}
	for _, f := range files {
		generated[f.Path] = true
	}
	for _, dir := range []string{"bundle/manifests", "bundle/metadata"} {
		entries, err := os.ReadDir(filepath.Join(root, dir))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if !generated[dir+"/"+e.Name()] {
				t.Errorf("%s/%s is not generated from config/ any more: run make bundle", dir, e.Name())
			}
		}
	}
	for _, f := range files {
		committed, err := os.ReadFile(filepath.Join(root, f.Path))
		if err != nil {
			t.Fatalf("%v: run make bundle", err)
		}
		if !bytes.Equal(committed, f.Content) {
			t.Errorf("%s is not what make bundle generates from config/: run make bundle", f.Path)
		}
	}
}

func TestBundleValidates(t *testing.T) {
	errs, warnings, err := Validate(filepath.Join(root, "bundle"), "1.37.2")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range append(errs, warnings...) {
		t.Error(e)
	}
}

// operator-sdk scorecard's olm-crds-have-resources: every owned CRD lists
// what it makes the operator write, here a pod's condition and an Event.
func TestOwnedCRDsListResources(t *testing.T) {
	b, err := manifests.GetBundleFromDir(filepath.Join(root, "bundle"))
	if err != nil {
		t.Fatal(err)
	}
	owned := b.CSV.Spec.CustomResourceDefinitions.Owned
	if len(owned) == 0 {
		t.Fatal("the CSV owns no CRD")
	}
	for _, crd := range owned {
		kinds := make([]string, 0, len(crd.Resources))
		for _, r := range crd.Resources {
			kinds = append(kinds, r.Kind+"/"+r.Version)
		}
		if !slices.Contains(kinds, "Pod/v1") || !slices.Contains(kinds, "Event/v1") {
			t.Errorf("owned CRD %s %s lists resources %v, want Pod/v1 and Event/v1", crd.Name, crd.Version, kinds)
		}
	}
}

// The validators are not vacuous: a bundle without what OperatorHub asks
// for, on a channel outside the naming convention, fails them.
func TestValidateReportsProblems(t *testing.T) {
	dir := t.TempDir()
	for _, sub := range []string{"manifests", "metadata"} {
		if err := os.CopyFS(filepath.Join(dir, sub), os.DirFS(filepath.Join(root, "bundle", sub))); err != nil {
			t.Fatal(err)
		}
	}
	csvPath := filepath.Join(dir, "manifests", "readygate.clusterserviceversion.yaml")
	edit(t, csvPath, func(csv map[string]any) {
		spec := csv["spec"].(map[string]any)
		delete(spec, "icon")
		delete(spec, "minKubeVersion")
	})
	edit(t, filepath.Join(dir, "metadata", "annotations.yaml"), func(a map[string]any) {
		a["annotations"].(map[string]any)["operators.operatorframework.io.bundle.channels.v1"] = "alpha"
		a["annotations"].(map[string]any)["operators.operatorframework.io.bundle.channel.default.v1"] = "alpha"
	})
	errs, warnings, err := Validate(dir, "1.37.2")
	if err != nil {
		t.Fatal(err)
	}
	all := strings.Join(append(errs, warnings...), "\n")
	for _, want := range []string{"csv.Spec.Icon not specified", "minKubeVersion", "channel(s) [\"alpha\"]"} {
		if !strings.Contains(all, want) {
			t.Errorf("no problem mentions %q; got:\n%s", want, all)
		}
	}
}

func edit(t *testing.T, path string, change func(map[string]any)) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var obj map[string]any
	if err := yaml.Unmarshal(raw, &obj); err != nil {
		t.Fatal(err)
	}
	change(obj)
	if raw, err = yaml.Marshal(obj); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		t.Fatal(err)
	}
}
