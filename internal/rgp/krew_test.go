package rgp_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestKrewManifest checks plugins/rgp.yaml with krew's own validator, which
// make test builds (KREW_VALIDATOR): the schema, the name, the platforms.
// The archives it names are published at release, so it does not install.
func TestKrewManifest(t *testing.T) {
	validator := os.Getenv("KREW_VALIDATOR")
	if validator == "" {
		t.Fatal("KREW_VALIDATOR is not set: run make test, which builds krew's validate-krew-manifest")
	}
	out, err := exec.Command(validator, "-manifest", "../../plugins/rgp.yaml", "-skip-install").CombinedOutput()
	if err != nil {
		t.Fatalf("validate-krew-manifest: %v\n%s", err, out)
	}
	manifest, err := os.ReadFile("../../plugins/rgp.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"bin: kubectl-rgp", "os: linux", "os: darwin"} {
		if !strings.Contains(string(manifest), want) {
			t.Errorf("plugins/rgp.yaml lacks %q", want)
		}
	}
}
