package chart

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// make release's script writes the kustomize install with the release's
// image and the chart packaged with the release's version.
func TestRelease(t *testing.T) {
	dist := t.TempDir()
	cmd := exec.Command(filepath.Join(root, "hack", "release.sh"))
	cmd.Env = append(os.Environ(), "VERSION=1.2.3", "IMG=registry.example.com/readygate:v1.2.3", "DIST="+dist,
		"KUSTOMIZE="+binary(t, "KUSTOMIZE", "kustomize"), "HELM="+binary(t, "HELM_BINARY", "helm"),
		"HELM_CONFIG_HOME="+t.TempDir(), "HELM_CACHE_HOME="+t.TempDir(), "HELM_DATA_HOME="+t.TempDir())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("hack/release.sh: %v\n%s", err, out)
	}
	raw, err := os.ReadFile(filepath.Join(dist, "install.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	install := parse(t, raw)
	if image := container(dig(named(t, install, "Deployment", "readygate-controller-manager"), "spec", "template", "spec"))["image"]; image != "registry.example.com/readygate:v1.2.3" {
		t.Errorf("dist/install.yaml runs %v", image)
	}
	named(t, install, "Certificate", "readygate-serving-cert")

	pkg := filepath.Join(dist, "readygate-1.2.3.tgz")
	chart := string(helm(t, "show", "chart", pkg))
	if !strings.Contains(chart, "version: 1.2.3") || !strings.Contains(chart, "appVersion: 1.2.3") {
		t.Errorf("the packaged chart is not version 1.2.3:\n%s", chart)
	}
	rendered := parse(t, helm(t, "template", release, pkg, "--namespace", namespace))
	if image := container(dig(named(t, rendered, "Deployment", "readygate-controller-manager"), "spec", "template", "spec"))["image"]; image != "ghcr.io/readygate/readygate:v1.2.3" {
		t.Errorf("the packaged chart runs %v", image)
	}
	if git, err := os.ReadFile(filepath.Join(root, "config", "manager", "kustomization.yaml")); err != nil || strings.Contains(string(git), "v1.2.3") {
		t.Errorf("make release edited config/manager: %v", err)
	}

	bad := exec.Command(filepath.Join(root, "hack", "release.sh"))
	bad.Env = append(cmd.Env, "VERSION=latest")
	if out, err := bad.CombinedOutput(); err == nil || !strings.Contains(string(out), "VERSION=latest is not a semantic version") {
		t.Errorf("VERSION=latest: %v\n%s", err, out)
	}
}
