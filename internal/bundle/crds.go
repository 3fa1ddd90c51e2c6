package bundle

import (
	"fmt"
	"slices"
	"strings"
	"unicode"

	operatorsv1alpha1 "github.com/operator-framework/api/pkg/operators/v1alpha1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
)

// ownedCRDs describe every served version of every CRD. The descriptors come
// from the schema itself, so they cannot drift from the API: one per
// top-level field of spec and status. What a resource makes the operator
// create or change (its resources) is not in the schema: the CSV base lists
// it, and every served version must have it (operator-sdk scorecard's
// olm-crds-have-resources).
func ownedCRDs(crds []*apiextensionsv1.CustomResourceDefinition, base []operatorsv1alpha1.CRDDescription) ([]operatorsv1alpha1.CRDDescription, error) {
	resources, err := baseResources(crds, base)
	if err != nil {
		return nil, err
	}
	var owned []operatorsv1alpha1.CRDDescription
	for _, crd := range crds {
		for _, v := range crd.Spec.Versions {
			if !v.Served {
				continue
			}
			if v.Schema == nil || v.Schema.OpenAPIV3Schema == nil {
				return nil, fmt.Errorf("CRD %s version %s has no schema to describe", crd.Name, v.Name)
			}
			schema := v.Schema.OpenAPIV3Schema
			desc := operatorsv1alpha1.CRDDescription{
				Name:        crd.Name,
				Version:     v.Name,
				Kind:        crd.Spec.Names.Kind,
				DisplayName: words(crd.Spec.Names.Kind),
				Description: firstSentence(schema.Description),
				Resources:   resources[crd.Name+"/"+v.Name],
			}
			if len(desc.Resources) == 0 {
				return nil, fmt.Errorf("CRD %s version %s lists no resources it creates: add them to the CSV base's spec.customresourcedefinitions.owned (config/manifests/bases)", crd.Name, v.Name)
			}
			if desc.Description == "" {
				return nil, fmt.Errorf("CRD %s version %s has no description: document the type in api/", crd.Name, v.Name)
			}
			for _, f := range fields(schema.Properties["spec"]) {
				desc.SpecDescriptors = append(desc.SpecDescriptors, operatorsv1alpha1.SpecDescriptor{
					Path: f.name, DisplayName: words(f.name), Description: firstSentence(f.schema.Description), XDescriptors: specUI(f),
				})
			}
			for _, f := range fields(schema.Properties["status"]) {
				desc.StatusDescriptors = append(desc.StatusDescriptors, operatorsv1alpha1.StatusDescriptor{
					Path: f.name, DisplayName: words(f.name), Description: firstSentence(f.schema.Description), XDescriptors: statusUI(f),
				})
			}
			owned = append(owned, desc)
		}
	}
	return owned, nil
}

// baseResources are the resources the CSV base lists for each owned CRD
// version, keyed name/version; a version the manifests do not serve is a
// mistake in the base.
func baseResources(crds []*apiextensionsv1.CustomResourceDefinition, base []operatorsv1alpha1.CRDDescription) (map[string][]operatorsv1alpha1.APIResourceReference, error) {
	served := map[string]bool{}
	for _, crd := range crds {
		for _, v := range crd.Spec.Versions {
			served[crd.Name+"/"+v.Name] = v.Served
		}
	}
	out := map[string][]operatorsv1alpha1.APIResourceReference{}
	for _, b := range base {
		key := b.Name + "/" + b.Version
		if !served[key] {
			return nil, fmt.Errorf("the CSV base lists owned CRD %s version %s, which the manifests do not serve", b.Name, b.Version)
		}
		out[key] = b.Resources
	}
	return out, nil
}

type field struct {
	name   string
	schema apiextensionsv1.JSONSchemaProps
}

// fields are an object's properties in name order.
func fields(obj apiextensionsv1.JSONSchemaProps) []field {
	out := make([]field, 0, len(obj.Properties))
	for name, s := range obj.Properties {
		out = append(out, field{name, s})
	}
	slices.SortFunc(out, func(a, b field) int { return strings.Compare(a.name, b.name) })
	return out
}

// specUI picks the console widget for a spec field; objects and lists get
// none and are edited as YAML.
func specUI(f field) []string {
	switch {
	case f.name == "selector":
		return []string{"urn:alm:descriptor:com.tectonic.ui:selector:core:v1:Pod"}
	case len(f.schema.Enum) > 0:
		var out []string
		for _, e := range f.schema.Enum {
			out = append(out, "urn:alm:descriptor:com.tectonic.ui:select:"+strings.Trim(string(e.Raw), `"`))
		}
		return out
	case f.schema.Type == "boolean":
		return []string{"urn:alm:descriptor:com.tectonic.ui:booleanSwitch"}
	case f.schema.Type == "integer":
		return []string{"urn:alm:descriptor:com.tectonic.ui:number"}
	case f.schema.Type == "string":
		return []string{"urn:alm:descriptor:com.tectonic.ui:text"}
	}
	return nil
}

func statusUI(f field) []string {
	if f.name == "conditions" {
		return []string{"urn:alm:descriptor:io.kubernetes.conditions"}
	}
	return nil
}

// words turns "conditionType" or "ReadinessGatePolicy" into "Condition Type"
// or "Readiness Gate Policy".
func words(name string) string {
	var b strings.Builder
	for i, r := range name {
		if i > 0 && unicode.IsUpper(r) {
			b.WriteByte(' ')
		}
		if i == 0 {
			r = unicode.ToUpper(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}

// firstSentence keeps the console's short descriptions short: the godoc's
// first sentence.
func firstSentence(doc string) string {
	doc = strings.Join(strings.Fields(doc), " ")
	if i := strings.Index(doc, ". "); i >= 0 {
		return doc[:i+1]
	}
	return doc
}
