package manifests

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

// applyK finds the directories docs/install.md tells users to apply.
var applyK = regexp.MustCompile("kubectl apply -k (config/[a-z-]+)")

// TestInstallDocOverlaysBuild builds exactly the directories docs/install.md
// names, so its instructions work as written with the pinned kustomize.
func TestInstallDocOverlaysBuild(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "install.md"))
	if err != nil {
		t.Fatal(err)
	}
	built := map[string][]map[string]any{}
	for _, m := range applyK.FindAllStringSubmatch(string(doc), -1) {
		if built[m[1]] == nil {
			built[m[1]] = build(t, filepath.Join("..", "..", filepath.FromSlash(m[1])))
		}
	}
	withPrometheus := built["config/default-with-prometheus"]
	if built["config/default"] == nil || withPrometheus == nil {
		t.Fatalf("docs/install.md no longer says to apply config/default and config/default-with-prometheus: %v", keys(built))
	}
	if named(withPrometheus, "ServiceMonitor", "readygate-controller-manager-metrics-monitor") == nil {
		t.Error("config/default-with-prometheus adds no ServiceMonitor")
	}
	for _, o := range built["config/default"] {
		if named(withPrometheus, o["kind"].(string), dig(o, "metadata", "name").(string)) == nil {
			t.Errorf("config/default-with-prometheus lacks %s %s of config/default", o["kind"], dig(o, "metadata", "name"))
		}
	}
}

func keys(m map[string][]map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
