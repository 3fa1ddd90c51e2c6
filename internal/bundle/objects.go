package bundle

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"

	operatorsv1alpha1 "github.com/operator-framework/api/pkg/operators/v1alpha1"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// objects are the manifests sorted by what the bundle makes of them.
type objects struct {
	csv                 *operatorsv1alpha1.ClusterServiceVersion
	crds                []*apiextensionsv1.CustomResourceDefinition
	deployments         []*appsv1.Deployment
	roles               map[string][]rbacv1.PolicyRule // by "Kind/name"
	roleObjects         []*unstructured.Unstructured   // in manifest order
	bindings            []binding
	mutating            []admissionregistrationv1.MutatingWebhook
	validating          []admissionregistrationv1.ValidatingWebhook
	examples            []*unstructured.Unstructured
	asIs                []*unstructured.Unstructured // Services other than the webhook's, PodDisruptionBudgets
	serviceAccountNames map[string]bool
}

// binding is a RoleBinding or ClusterRoleBinding, which become the CSV's
// permissions and clusterPermissions.
type binding struct {
	name     string
	cluster  bool
	roleRef  rbacv1.RoleRef
	subjects []rbacv1.Subject
}

// manifest is one decoded document and its bytes, for strict typed decoding.
type manifest struct {
	*unstructured.Unstructured
	doc []byte
}

// sortObjects decodes every document and files it. A kind the bundle has no
// place for is an error rather than silently lost.
func sortObjects(manifests []byte) (*objects, error) {
	var all []manifest
	reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(manifests)))
	for {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("reading the manifests: %w", err)
		}
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal(doc, &u.Object); err != nil {
			return nil, fmt.Errorf("decoding a manifest: %w", err)
		}
		if len(u.Object) > 0 {
			all = append(all, manifest{u, doc})
		}
	}
	objs := &objects{roles: map[string][]rbacv1.PolicyRule{}, serviceAccountNames: map[string]bool{}}
	owned, webhookServices := ownedGroups(all), webhookServiceNames(all)
	for _, m := range all {
		if err := objs.add(m, owned, webhookServices); err != nil {
			return nil, fmt.Errorf("%s %s: %w", m.GetKind(), m.GetName(), err)
		}
	}
	return objs, nil
}

// ownedGroups are the API groups of the CRDs: objects of those groups are
// examples for the CSV.
func ownedGroups(all []manifest) map[string]bool {
	groups := map[string]bool{}
	for _, m := range all {
		if m.GetKind() == "CustomResourceDefinition" {
			group, _, _ := unstructured.NestedString(m.Object, "spec", "group")
			groups[group] = true
		}
	}
	return groups
}

// webhookServiceNames are the Services the webhook configurations call.
func webhookServiceNames(all []manifest) map[string]bool {
	names := map[string]bool{}
	for _, m := range all {
		if m.GetKind() != "MutatingWebhookConfiguration" && m.GetKind() != "ValidatingWebhookConfiguration" {
			continue
		}
		webhooks, _, _ := unstructured.NestedSlice(m.Object, "webhooks")
		for _, w := range webhooks {
			if w, ok := w.(map[string]any); ok {
				name, _, _ := unstructured.NestedString(w, "clientConfig", "service", "name")
				names[name] = true
			}
		}
	}
	return names
}

func (o *objects) add(m manifest, owned, webhookServices map[string]bool) error {
	switch kind := m.GetKind(); {
	case kind == "ClusterServiceVersion":
		if o.csv != nil {
			return errors.New("a second ClusterServiceVersion base")
		}
		o.csv = &operatorsv1alpha1.ClusterServiceVersion{}
		return yaml.UnmarshalStrict(m.doc, o.csv)
	case kind == "CustomResourceDefinition":
		crd := &apiextensionsv1.CustomResourceDefinition{}
		o.crds = append(o.crds, crd)
		return yaml.UnmarshalStrict(m.doc, crd)
	case kind == "Deployment":
		d := &appsv1.Deployment{}
		o.deployments = append(o.deployments, d)
		return yaml.UnmarshalStrict(m.doc, d)
	case kind == "Role" || kind == "ClusterRole":
		r := &rbacv1.ClusterRole{}
		if err := yaml.Unmarshal(m.doc, r); err != nil {
			return err
		}
		o.roles[kind+"/"+r.Name] = r.Rules
		o.roleObjects = append(o.roleObjects, m.Unstructured)
	case kind == "RoleBinding" || kind == "ClusterRoleBinding":
		b := &rbacv1.ClusterRoleBinding{}
		if err := yaml.Unmarshal(m.doc, b); err != nil {
			return err
		}
		o.bindings = append(o.bindings, binding{name: b.Name, cluster: kind == "ClusterRoleBinding", roleRef: b.RoleRef, subjects: b.Subjects})
	case kind == "MutatingWebhookConfiguration":
		c := &admissionregistrationv1.MutatingWebhookConfiguration{}
		if err := yaml.UnmarshalStrict(m.doc, c); err != nil {
			return err
		}
		o.mutating = append(o.mutating, c.Webhooks...)
	case kind == "ValidatingWebhookConfiguration":
		c := &admissionregistrationv1.ValidatingWebhookConfiguration{}
		if err := yaml.UnmarshalStrict(m.doc, c); err != nil {
			return err
		}
		o.validating = append(o.validating, c.Webhooks...)
	case kind == "ServiceAccount":
		// OLM creates the service accounts the permissions name.
		o.serviceAccountNames[m.GetName()] = true
	case kind == "Namespace":
		// OLM installs into the namespace of the OperatorGroup.
	case kind == "Service" && webhookServices[m.GetName()]:
		// OLM creates the webhook Service from the webhookdefinitions.
	case kind == "Service", kind == "PodDisruptionBudget":
		// Any other Service (metrics), and the manager's disruption budget,
		// OLM creates as they are.
		o.asIs = append(o.asIs, m.Unstructured)
	case owned[m.GroupVersionKind().Group]:
		o.examples = append(o.examples, m.Unstructured)
	default:
		return errors.New("has no place in an OLM bundle: remove it from config/manifests or teach internal/bundle what to do with it")
	}
	return nil
}

// plainManifests are the objects OLM creates as they are, in the operator's
// namespace: the roles no binding grants to the operator, for an
// administrator to bind (the Secret and metrics readers), the Services
// that are not the webhook's (metrics) and the PodDisruptionBudget.
func (o *objects) plainManifests() []*unstructured.Unstructured {
	return append(o.unboundRoles(), o.asIs...)
}

// unboundRoles are the roles no binding grants to the operator.
func (o *objects) unboundRoles() []*unstructured.Unstructured {
	bound := map[string]bool{}
	for _, b := range o.bindings {
		bound[b.roleRef.Kind+"/"+b.roleRef.Name] = true
	}
	var out []*unstructured.Unstructured
	for _, r := range o.roleObjects {
		if !bound[r.GetKind()+"/"+r.GetName()] {
			out = append(out, r)
		}
	}
	return out
}
