// Package objects reads rendered manifests (kustomize build, helm template)
// as plain maps, for tests that compare what installs ship.
package objects

import (
	"bytes"
	"fmt"

	"sigs.k8s.io/yaml"
)

// Parse splits a YAML stream into its objects, skipping empty documents.
func Parse(stream []byte) ([]map[string]any, error) {
	var objs []map[string]any
	for i, doc := range bytes.Split(stream, []byte("\n---")) {
		var obj map[string]any
		if err := yaml.Unmarshal(doc, &obj); err != nil {
			return nil, fmt.Errorf("document %d: %w", i+1, err)
		}
		if obj != nil {
			objs = append(objs, obj)
		}
	}
	return objs, nil
}

// Named finds an object by kind and name, or nil.
func Named(objs []map[string]any, kind, name string) map[string]any {
	for _, o := range objs {
		if o["kind"] == kind && Dig(o, "metadata", "name") == name {
			return o
		}
	}
	return nil
}

// Dig follows a path of map keys, or returns nil where one is missing.
func Dig(v any, path ...string) any {
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[p]
	}
	return v
}
