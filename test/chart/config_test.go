package chart

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// The chart and config/default install the same operator: the same RBAC,
// the same webhooks, the same objects under the same names, the same
// hardened pod, so the two installs cannot drift.

func TestFilesMatchConfig(t *testing.T) {
	drift, err := Drift(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range drift {
		t.Errorf("%s: run make chart", d)
	}
}

func TestRBACMatchesConfig(t *testing.T) {
	config := kustomize(t, "default")
	for mode, set := range certModes {
		t.Run(mode, func(t *testing.T) {
			chart := render(t, set...)
			for _, kind := range []string{"ClusterRole", "Role"} {
				for _, want := range ofKind(config, kind) {
					name := dig(want, "metadata", "name").(string)
					got := named(t, chart, kind, name)
					if !reflect.DeepEqual(got["rules"], want["rules"]) {
						t.Errorf("%s %s: the chart grants\n%s\nconfig/default grants\n%s", kind, name, toYAML(got["rules"]), toYAML(want["rules"]))
					}
				}
			}
			for _, kind := range []string{"ClusterRoleBinding", "RoleBinding"} {
				for _, want := range ofKind(config, kind) {
					got := named(t, chart, kind, dig(want, "metadata", "name").(string))
					for _, field := range []string{"roleRef", "subjects"} {
						if !reflect.DeepEqual(got[field], want[field]) {
							t.Errorf("%s %s: %s %v, config/default has %v", kind, dig(want, "metadata", "name"), field, got[field], want[field])
						}
					}
				}
			}
		})
	}
}

func TestWebhooksMatchConfig(t *testing.T) {
	config := kustomize(t, "default")
	for mode, set := range certModes {
		t.Run(mode, func(t *testing.T) {
			chart := render(t, set...)
			for _, kind := range []string{"MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"} {
				want := ofKind(config, kind)
				if len(want) != 1 {
					t.Fatalf("config/default has %d %s", len(want), kind)
				}
				got := named(t, chart, kind, dig(want[0], "metadata", "name").(string))
				// Everything of each webhook but the CA bundle: rules, service
				// and path, failure policy, side effects, selectors, timeout.
				if g, w := withoutCABundle(got["webhooks"]), withoutCABundle(want[0]["webhooks"]); !reflect.DeepEqual(g, w) {
					t.Errorf("%s: the chart's webhooks\n%s\nconfig/default's\n%s", kind, toYAML(g), toYAML(w))
				}
				inject := dig(got, "metadata", "annotations", "cert-manager.io/inject-ca-from")
				if mode == "cert-manager" && inject != dig(want[0], "metadata", "annotations", "cert-manager.io/inject-ca-from") {
					t.Errorf("%s: cert-manager injects the CA from %v", kind, inject)
				}
				if mode == "self-signed" && (inject != nil || caBundle(got) == "") {
					t.Errorf("%s: a self-signed install needs the chart's CA in the caBundle and no cert-manager annotation", kind)
				}
			}
		})
	}
}

// Under cert-manager the chart has every object config/default has, named
// the same; the self-signed install swaps cert-manager's for Secrets.
func TestObjectsMatchConfig(t *testing.T) {
	chart := render(t, certModes["cert-manager"]...)
	for _, want := range kustomize(t, "default") {
		switch want["kind"] {
		case "Namespace", "PodDisruptionBudget":
			// helm install --create-namespace; the PodDisruptionBudget is
			// checked by TestHighAvailability.
		default:
			named(t, chart, want["kind"].(string), dig(want, "metadata", "name").(string))
		}
	}
	selfSigned := render(t, certModes["self-signed"]...)
	for _, kind := range []string{"Issuer", "Certificate"} {
		if objs := ofKind(selfSigned, kind); len(objs) > 0 {
			t.Errorf("the self-signed install needs no cert-manager, but has %v", kindsAndNames(objs))
		}
	}
}

func TestDeploymentMatchesConfig(t *testing.T) {
	want := ofKind(kustomize(t, "default"), "Deployment")[0]
	for mode, set := range certModes {
		t.Run(mode, func(t *testing.T) {
			got := named(t, render(t, set...), "Deployment", dig(want, "metadata", "name").(string))
			pod, wantPod := dig(got, "spec", "template", "spec"), dig(want, "spec", "template", "spec")
			for _, field := range []string{"securityContext", "serviceAccountName", "terminationGracePeriodSeconds"} {
				if !reflect.DeepEqual(dig(pod, field), dig(wantPod, field)) {
					t.Errorf("pod %s: %v, config/default has %v", field, dig(pod, field), dig(wantPod, field))
				}
			}
			c, wantC := container(pod), container(wantPod)
			for _, field := range []string{"securityContext", "env", "livenessProbe", "readinessProbe", "resources", "lifecycle"} {
				if !reflect.DeepEqual(c[field], wantC[field]) {
					t.Errorf("container %s: %v, config/default has %v", field, c[field], wantC[field])
				}
			}
			args := flags(c["args"])
			for _, a := range flags(wantC["args"]) {
				if !slices.Contains(args, a) {
					t.Errorf("config/default runs the manager with %s, the chart with %v", a, args)
				}
			}
			if !reflect.DeepEqual(mountPaths(c), mountPaths(wantC)) {
				t.Errorf("the chart mounts %v, config/default %v", mountPaths(c), mountPaths(wantC))
			}
		})
	}
}

func TestHighAvailability(t *testing.T) {
	chart := render(t)
	dep := named(t, chart, "Deployment", "readygate-controller-manager")
	if dig(dep, "spec", "replicas") != float64(2) || !slices.Contains(flags(container(dig(dep, "spec", "template", "spec"))["args"]), "--leader-elect=true") {
		t.Errorf("the default install is not two replicas with leader election: %v", dig(dep, "spec"))
	}
	pdb := named(t, chart, "PodDisruptionBudget", "readygate-controller-manager")
	if want := ofKind(kustomize(t, "default"), "PodDisruptionBudget")[0]; !reflect.DeepEqual(withoutSelector(pdb), withoutSelector(want)) {
		t.Errorf("the PodDisruptionBudget's spec is %v, config/default's %v", pdb["spec"], want["spec"])
	}
	if dig(pdb, "spec", "maxUnavailable") != float64(1) || dig(pdb, "spec", "unhealthyPodEvictionPolicy") != "AlwaysAllow" ||
		!reflect.DeepEqual(dig(pdb, "spec", "selector", "matchLabels"), dig(dep, "spec", "selector", "matchLabels")) {
		t.Errorf("the PodDisruptionBudget does not let one of the manager's pods, or any unready one, go at a time: %v", pdb["spec"])
	}
	if pdbs := ofKind(render(t, "replicaCount=1"), "PodDisruptionBudget"); len(pdbs) > 0 {
		t.Error("one replica got a PodDisruptionBudget, which protects nothing")
	}
	grace := dig(dep, "spec", "template", "spec", "terminationGracePeriodSeconds").(float64)
	sleep := dig(container(dig(dep, "spec", "template", "spec")), "lifecycle", "preStop", "sleep", "seconds").(float64)
	if sleep < 5 || grace < sleep+10 {
		t.Errorf("a stopping replica sleeps %vs before it stops and has %vs in all: it must serve until its endpoint is gone, then release its lease", sleep, grace)
	}
	// The manager releases its lease once its stop has waited this long:
	// the kubelet must not kill it first.
	shutdown := fmt.Sprintf("--graceful-shutdown-timeout=%vs", grace-sleep-3)
	if args := flags(container(dig(dep, "spec", "template", "spec"))["args"]); !slices.Contains(args, shutdown) {
		t.Errorf("the manager runs with %v, want %s: a stop must end, lease released, within the grace period after the preStop sleep", args, shutdown)
	}
	if out, err := helmErr(t, "template", release, chartDir, "--set", "podDisruptionBudget.minAvailable=2"); err == nil || !strings.Contains(string(out), "no longer read") {
		t.Errorf("a minAvailable other than 0.1.0's default was taken silently (%v):\n%s", err, out)
	}
	if out, err := helmErr(t, "template", release, chartDir, "--set", "terminationGracePeriodSeconds=6"); err == nil || !strings.Contains(string(out), "no time to stop") {
		t.Errorf("a grace period shorter than the preStop sleep and a stop rendered (%v): the kubelet would kill the leader before it releases its lease\n%s", err, out)
	}
	// The manager's shutdown timeout is derived from it: one Go cannot
	// parse as a duration would crash-loop every replica on its flags.
	if out, err := helmErr(t, "template", release, chartDir, "--set", "terminationGracePeriodSeconds=10000000000"); err == nil || !strings.Contains(string(out), "terminationGracePeriodSeconds") {
		t.Errorf("a grace period of 317 years rendered (%v)\n%s", err, out)
	}
	out, err := helmErr(t, "template", release, chartDir, "--set", "manager.leaderElect=false")
	if err == nil || !strings.Contains(string(out), "needs manager.leaderElect=true") {
		t.Errorf("two replicas without leader election rendered (%v): both would write the gates\n%s", err, out)
	}
	out, err = helmErr(t, "template", release, chartDir, "--set", "manager.leaderElect=false", "--set", "replicaCount=1")
	if err != nil {
		t.Fatalf("one replica without leader election was refused: %v", err)
	}
	if strategy := dig(named(t, parse(t, out), "Deployment", "readygate-controller-manager"), "spec", "strategy", "type"); strategy != "Recreate" {
		t.Errorf("one replica without leader election rolls with strategy %v: a rolling update's surge would run two writers", strategy)
	}
}

// withoutSelector is a PodDisruptionBudget's spec without its selector,
// whose labels differ between the chart and config/.
func withoutSelector(pdb map[string]any) map[string]any {
	spec := deepCopy(pdb["spec"]).(map[string]any)
	delete(spec, "selector")
	return spec
}

func container(pod any) map[string]any {
	return dig(pod, "containers").([]any)[0].(map[string]any)
}

// flags normalizes a boolean flag to --name=true, as the chart writes it.
func flags(args any) []string {
	out := make([]string, 0, len(args.([]any)))
	for _, a := range args.([]any) {
		s := a.(string)
		if !strings.Contains(s, "=") {
			s += "=true"
		}
		out = append(out, s)
	}
	return out
}

func mountPaths(c map[string]any) []string {
	mounts, _ := c["volumeMounts"].([]any)
	out := make([]string, 0, len(mounts))
	for _, m := range mounts {
		out = append(out, dig(m, "mountPath").(string))
	}
	slices.Sort(out)
	return out
}

func withoutCABundle(webhooks any) []any {
	out := make([]any, 0, len(webhooks.([]any)))
	for _, w := range webhooks.([]any) {
		w := deepCopy(w).(map[string]any)
		delete(w["clientConfig"].(map[string]any), "caBundle")
		out = append(out, w)
	}
	return out
}

func caBundle(cfg map[string]any) string {
	s, _ := dig(cfg["webhooks"].([]any)[0], "clientConfig", "caBundle").(string)
	return s
}

func deepCopy(v any) any {
	var out any
	raw, _ := yaml.Marshal(v)
	_ = yaml.Unmarshal(raw, &out)
	return out
}

func toYAML(v any) string {
	out, _ := yaml.Marshal(v)
	return string(out)
}

// TestUpgradeReusingTheLastValues: `helm upgrade --reuse-values` renders the
// new chart's templates with the last release's values alone, the old
// chart's defaults included and none of the new chart's, as docs/install.md
// shows: a copy of the chart whose values.yaml is the last stop's
// (testdata/values-0.1.0.yaml, chart 0.1.0 as of 40687e7).
func TestUpgradeReusingTheLastValues(t *testing.T) {
	chart := filepath.Join(t.TempDir(), "readygate")
	if err := os.CopyFS(chart, os.DirFS(chartDir)); err != nil {
		t.Fatal(err)
	}
	last, err := os.ReadFile(filepath.Join("testdata", "values-0.1.0.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(chart, "values.yaml"), last, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := helmErr(t, "template", release, chart)
	if err != nil {
		t.Fatalf("the chart refuses the last release's values: %v\n%s", err, out)
	}
	objs := parse(t, out)
	dep := named(t, objs, "Deployment", "readygate-controller-manager")
	if sleep := dig(container(dig(dep, "spec", "template", "spec")), "lifecycle", "preStop", "sleep", "seconds"); sleep != float64(5) {
		t.Errorf("the preStop sleep is %v, want the default 5 s", sleep)
	}
	if pdb := named(t, objs, "PodDisruptionBudget", "readygate-controller-manager"); dig(pdb, "spec", "maxUnavailable") != float64(1) {
		t.Errorf("the PodDisruptionBudget is %v, want maxUnavailable 1", pdb["spec"])
	}
}
