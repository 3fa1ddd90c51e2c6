package chart

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// notFromValues are the manager's flags the chart sets no value for, and why.
var notFromValues = map[string]string{
	"kubeconfig":       "in a pod the manager uses its service account",
	"webhook-cert-dir": "the chart mounts the certificate where the flag's default reads it",
}

// Every flag the manager binary has is set from values.yaml, which names
// it in the comment of its value: a flag added to cmd/ without a value
// fails here.
func TestEveryManagerFlagHasAValue(t *testing.T) {
	values, err := os.ReadFile(filepath.Join(chartDir, "values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	args := flags(container(dig(named(t, render(t), "Deployment", "readygate-controller-manager"), "spec", "template", "spec"))["args"])
	set := map[string]bool{}
	for _, a := range args {
		set[strings.TrimPrefix(strings.SplitN(a, "=", 2)[0], "--")] = true
	}
	names := managerFlags(t)
	for _, name := range names {
		if _, ok := notFromValues[name]; ok {
			continue
		}
		if !set[name] {
			t.Errorf("the chart does not set --%s (args %v)", name, args)
		}
		if !regexp.MustCompile(`#.*--` + regexp.QuoteMeta(name) + `\b`).Match(values) {
			t.Errorf("values.yaml documents no value for --%s", name)
		}
	}
	for name := range set {
		if !slices.Contains(names, name) {
			t.Errorf("the chart sets --%s, which the manager does not have", name)
		}
	}
}

// managerFlags are the flag names the manager's -h lists.
func managerFlags(t *testing.T) []string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "manager")
	if out, err := exec.Command("go", "build", "-o", bin, filepath.Join(root, "cmd")).CombinedOutput(); err != nil {
		t.Fatalf("building the manager: %v\n%s", err, out)
	}
	out, _ := exec.Command(bin, "-h").CombinedOutput()
	matches := regexp.MustCompile(`(?m)^  -([a-z0-9-]+)`).FindAllSubmatch(out, -1)
	names := make([]string, 0, len(matches))
	for _, m := range matches {
		names = append(names, string(m[1]))
	}
	if len(names) < 10 {
		t.Fatalf("the manager's -h lists %d flags:\n%s", len(names), out)
	}
	return names
}
