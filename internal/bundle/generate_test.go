package bundle

import (
	"strings"
	"testing"
)

// A minimal operator: the CSV base, a CRD, a deployment, its service
// account and one ClusterRole bound to it.
const (
	csvBase = `apiVersion: operators.coreos.com/v1alpha1
kind: ClusterServiceVersion
metadata: {name: x.v0.0.0}
spec:
  displayName: x
  customresourcedefinitions:
    owned: [{name: widgets.example.io, version: v1, kind: Widget, resources: [{kind: Pod, version: v1, name: ""}]}]`
	crd = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.io}
spec:
  group: example.io
  names: {kind: Widget, plural: widgets}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        description: Widget is a test kind. It has a spec.
        type: object
        properties:
          spec: {type: object, properties: {size: {type: integer, description: size says how big.}}}`
	deployment = `apiVersion: apps/v1
kind: Deployment
metadata: {name: op}
spec:
  selector: {matchLabels: {app: op}}
  template:
    metadata: {labels: {app: op}}
    spec:
      serviceAccountName: op
      containers:
      - name: manager
        image: placeholder
        ports: [{name: webhook-server, containerPort: 9443}]`
	serviceAccount = `apiVersion: v1
kind: ServiceAccount
metadata: {name: op}`
	clusterRole = `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: op}
rules: [{apiGroups: [""], resources: [pods], verbs: [get]}]`
	clusterRoleBinding = `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: op}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: op}
subjects: [{kind: ServiceAccount, name: op, namespace: x}]`
	unboundRole = `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: reader}
rules: [{apiGroups: [""], resources: [secrets], verbs: [get]}]`
	metricsService = `apiVersion: v1
kind: Service
metadata: {name: op-metrics, namespace: x}
spec: {ports: [{name: metrics, port: 8443}], selector: {app: op}}`
	disruptionBudget = `apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: op, namespace: x}
spec: {maxUnavailable: 1, selector: {matchLabels: {app: op}}}`
	example = `apiVersion: example.io/v1
kind: Widget
metadata: {name: small, namespace: x}
spec: {size: 1}`
)

func docs(d ...string) []byte { return []byte(strings.Join(d, "\n---\n")) }

var opts = Options{Version: "1.2.3", Replaces: "x.v1.2.2", Image: "example.io/op:v1.2.3", Icon: []byte("<svg/>"), Package: "x", Channels: []string{"stable"}, DefaultChannel: "stable"}

func TestGenerate(t *testing.T) {
	files, err := Generate(docs(csvBase, crd, serviceAccount, clusterRole, clusterRoleBinding, unboundRole, metricsService, disruptionBudget, deployment, example), opts)
	if err != nil {
		t.Fatal(err)
	}
	paths := map[string]string{}
	for _, f := range files {
		paths[f.Path] = string(f.Content)
	}
	csv := paths["bundle/manifests/x.clusterserviceversion.yaml"]
	for _, want := range []string{
		"name: x.v1.2.3", "version: 1.2.3", "replaces: x.v1.2.2", "image: example.io/op:v1.2.3", "containerImage: example.io/op:v1.2.3",
		"serviceAccountName: op", "path: size", "resources:\n      - kind: Pod\n        name: \"\"\n        version: v1\n", "urn:alm:descriptor:com.tectonic.ui:number", "description: Widget is a test kind.\n",
		`"name": "small"`, "mediatype: image/svg+xml",
	} {
		if !strings.Contains(csv, want) {
			t.Errorf("the CSV lacks %q:\n%s", want, csv)
		}
	}
	if strings.Contains(csv, `"namespace"`) || strings.Contains(csv, "creationTimestamp") || strings.Contains(csv, "status:") {
		t.Errorf("the CSV carries an example's namespace, a null timestamp or a status:\n%s", csv)
	}
	if strings.Contains(csv, "secrets") {
		t.Errorf("the CSV grants the unbound role's rules:\n%s", csv)
	}
	if reader := paths["bundle/manifests/reader_rbac.authorization.k8s.io_v1_clusterrole.yaml"]; !strings.Contains(reader, "secrets") {
		t.Errorf("the unbound ClusterRole is not a bundle manifest of its own: %q", reader)
	}
	if svc := paths["bundle/manifests/op-metrics_v1_service.yaml"]; !strings.Contains(svc, "port: 8443") || strings.Contains(svc, "namespace") {
		t.Errorf("the metrics Service is not a bundle manifest of its own, without a namespace: %q", svc)
	}
	if pdb := paths["bundle/manifests/op_policy_v1_poddisruptionbudget.yaml"]; !strings.Contains(pdb, "maxUnavailable: 1") || strings.Contains(pdb, "namespace") {
		t.Errorf("the PodDisruptionBudget is not a bundle manifest of its own, without a namespace: %q", pdb)
	}
	for _, p := range []string{"bundle/manifests/example.io_widgets.yaml", "bundle/metadata/annotations.yaml", "bundle.Dockerfile"} {
		if paths[p] == "" {
			t.Errorf("no %s among %v", p, files)
		}
	}
	again, err := Generate(docs(csvBase, crd, serviceAccount, clusterRole, clusterRoleBinding, unboundRole, metricsService, disruptionBudget, deployment, example), opts)
	if err != nil {
		t.Fatal(err)
	}
	for i := range files {
		if string(again[i].Content) != string(files[i].Content) {
			t.Errorf("%s differs between two runs", files[i].Path)
		}
	}
}

func TestGenerateRejects(t *testing.T) {
	valid := []string{csvBase, crd, serviceAccount, clusterRole, clusterRoleBinding, deployment}
	replace := func(old, new string) []byte {
		out := make([]string, 0, len(valid))
		for _, d := range valid {
			if d == old {
				d = new
			}
			if d != "" {
				out = append(out, d)
			}
		}
		return docs(out...)
	}
	cases := []struct {
		name      string
		manifests []byte
		opts      Options
		want      string
	}{
		{"a version that is not semver", docs(valid...), Options{Version: "v1", Image: "i"}, `version "v1" is not a semantic version`},
		{"no CSV base", replace(csvBase, ""), opts, "no ClusterServiceVersion base"},
		{"a kind with no place in a bundle", docs(append(valid, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}")...), opts, "ConfigMap c: has no place in an OLM bundle"},
		{"a binding to a user", replace(clusterRoleBinding, strings.Replace(clusterRoleBinding, "kind: ServiceAccount, name: op", "kind: User, name: alice", 1)), opts, `binding op: subject User "alice" is not the operator's service account "op"`},
		{"a binding to a missing role", replace(clusterRole, ""), opts, `binding op: refers to ClusterRole "op", which the manifests do not define`},
		{"no binding at all", replace(clusterRoleBinding, ""), opts, "no RoleBinding or ClusterRoleBinding"},
		{"no service account", replace(serviceAccount, ""), opts, `deployment op runs as service account "op", which the manifests do not define`},
		{"no manager container", replace(deployment, strings.Replace(deployment, "name: manager", "name: app", 1)), opts, `deployment op has no container named "manager"`},
		{"a misspelt field", replace(deployment, deployment+"\n  replica: 2"), opts, `Deployment op: error unmarshaling JSON: while decoding JSON: json: unknown field "replica"`},
		{"an owned CRD without resources", replace(csvBase, strings.Replace(csvBase, `, resources: [{kind: Pod, version: v1, name: ""}]`, "", 1)), opts,
			"CRD widgets.example.io version v1 lists no resources it creates: add them to the CSV base's spec.customresourcedefinitions.owned"},
		{"resources for a CRD the manifests lack", replace(csvBase, strings.Replace(csvBase, "version: v1, kind", "version: v2, kind", 1)), opts,
			"the CSV base lists owned CRD widgets.example.io version v2, which the manifests do not serve"},
		{"an undocumented CRD", replace(crd, strings.Replace(crd, "description: Widget is a test kind. It has a spec.\n        ", "", 1)), opts, "has no description"},
		{"a webhook outside the operator", docs(append(valid, `apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata: {name: v}
webhooks: [{name: v.example.io, clientConfig: {url: "https://example.io"}, sideEffects: None, admissionReviewVersions: [v1]}]`)...), opts, "webhook v.example.io: OLM can only route to a path of the operator's own Service"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Generate(tc.manifests, tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}
