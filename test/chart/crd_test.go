package chart

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"sigs.k8s.io/yaml"
)

// The chart installs the CRD controller-gen generates, kept on uninstall
// unless told otherwise.
func TestCRD(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(root, "config", "crd", "bases", "readygate.io_readinessgatepolicies.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var want map[string]any
	if err := yaml.Unmarshal(raw, &want); err != nil {
		t.Fatal(err)
	}
	got := named(t, render(t), "CustomResourceDefinition", "readinessgatepolicies.readygate.io")
	if dig(got, "metadata", "annotations", "helm.sh/resource-policy") != "keep" {
		t.Error("the CRD is deleted with the release, and with it every policy")
	}
	if !reflect.DeepEqual(got["spec"], want["spec"]) {
		t.Error("the chart's CRD spec differs from config/crd/bases")
	}
	if ofKind(render(t, "crds.install=false"), "CustomResourceDefinition") != nil {
		t.Error("crds.install=false still installs the CRD")
	}
	if dig(named(t, render(t, "crds.keep=false"), "CustomResourceDefinition", "readinessgatepolicies.readygate.io"), "metadata", "annotations", "helm.sh/resource-policy") != nil {
		t.Error("crds.keep=false still keeps the CRD")
	}
}
