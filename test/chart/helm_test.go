package chart

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/readygate/readygate/test/objects"
)

// The release the tests render: named and namespaced as config/default
// names its objects, so that the two can be compared object by object.
const (
	release   = "readygate"
	namespace = "readygate-system"
)

// tb is what the helpers need of a test: testing.T's and GinkgoT()'s.
type tb interface {
	Helper()
	Fatalf(format string, args ...any)
	TempDir() string
}

var (
	root     = filepath.Join("..", "..")
	chartDir = filepath.Join(root, "charts", "readygate")
)

func binary(t tb, env, target string) string {
	t.Helper()
	bin := os.Getenv(env)
	if bin == "" {
		t.Fatalf("%s is not set: run the tests through `make test`, which builds %s", env, target)
	}
	return bin
}

// helm runs the helm CLI and returns its output, or fails the test.
func helm(t tb, args ...string) []byte {
	t.Helper()
	out, err := helmErr(t, args...)
	if err != nil {
		t.Fatalf("helm %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func helmErr(t tb, args ...string) ([]byte, error) {
	t.Helper()
	cmd := exec.Command(binary(t, "HELM_BINARY", "helm"), args...)
	// No user's repositories, plugins or cache.
	home := t.TempDir()
	cmd.Env = append(os.Environ(), "HELM_CONFIG_HOME="+home, "HELM_CACHE_HOME="+home, "HELM_DATA_HOME="+home)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return append(out, stderr.Bytes()...), err
	}
	return out, nil
}

// render runs helm template on the chart with --set values.
func render(t tb, set ...string) []map[string]any {
	t.Helper()
	args := []string{"template", release, chartDir, "--namespace", namespace}
	if len(set) > 0 {
		args = append(args, "--set", strings.Join(set, ","))
	}
	return parse(t, helm(t, args...))
}

// kustomize builds a directory of config/.
func kustomize(t tb, dir string) []map[string]any {
	t.Helper()
	out, err := exec.Command(binary(t, "KUSTOMIZE", "kustomize"), "build", filepath.Join(root, "config", dir)).CombinedOutput()
	if err != nil {
		t.Fatalf("kustomize build config/%s: %v\n%s", dir, err, out)
	}
	return parse(t, out)
}

func parse(t tb, out []byte) []map[string]any {
	t.Helper()
	objs, err := objects.Parse(out)
	if err != nil {
		t.Fatalf("%v in\n%s", err, out)
	}
	return objs
}

// named finds an object by kind and name, or fails.
func named(t tb, objs []map[string]any, kind, name string) map[string]any {
	t.Helper()
	o := objects.Named(objs, kind, name)
	if o == nil {
		t.Fatalf("no %s %s among %v", kind, name, kindsAndNames(objs))
	}
	return o
}

func kindsAndNames(objs []map[string]any) []string {
	out := make([]string, 0, len(objs))
	for _, o := range objs {
		out = append(out, o["kind"].(string)+" "+dig(o, "metadata", "name").(string))
	}
	return out
}

func ofKind(objs []map[string]any, kind string) []map[string]any {
	var out []map[string]any
	for _, o := range objs {
		if o["kind"] == kind {
			out = append(out, o)
		}
	}
	return out
}

func dig(v any, path ...string) any { return objects.Dig(v, path...) }
