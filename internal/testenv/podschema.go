package testenv

import (
	"encoding/json"
	"fmt"

	"github.com/readygate/readygate/internal/cel"
	"github.com/readygate/readygate/internal/podschema"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/cel/openapi/resolver"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
	"k8s.io/kube-openapi/pkg/validation/spec"
)

// PodSchemaFile is the snapshot internal/podschema embeds, relative to this package.
const PodSchemaFile = "../podschema/" + podschema.File

// PodSchema returns the snapshot of the Pod's schema (internal/podschema),
// for tests that run too often or in too many processes to start a control
// plane each. The testenv suite fails when it differs from what the control
// plane serves.
func PodSchema() (*spec.Schema, error) { return podschema.Schema() }

// ServedPodSchema resolves the Pod's schema from a running API server as the
// operator does, and renders it as the snapshot keeps it: indented JSON
// without the descriptions, which CEL does not read and which make up most
// of the bytes.
func ServedPodSchema(cfg *rest.Config) ([]byte, error) {
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, err
	}
	s, err := (&resolver.ClientDiscoveryResolver{Discovery: dc}).ResolveSchema(schema.GroupVersionKind{Version: "v1", Kind: "Pod"})
	if err != nil {
		return nil, fmt.Errorf("resolving the Pod schema: %w", err)
	}
	raw, err := json.Marshal(s)
	if err != nil {
		return nil, err
	}
	var tree any
	if err := json.Unmarshal(raw, &tree); err != nil {
		return nil, err
	}
	dropDescriptions(tree)
	out, err := json.MarshalIndent(tree, "", " ")
	return append(out, '\n'), err
}

func dropDescriptions(v any) {
	switch v := v.(type) {
	case map[string]any:
		// A property may be called description: only a string is the keyword.
		if _, ok := v["description"].(string); ok {
			delete(v, "description")
		}
		for _, child := range v {
			dropDescriptions(child)
		}
	case []any:
		for _, child := range v {
			dropDescriptions(child)
		}
	}
}

// CELEnv is the operator's CEL environment typed by the Pod schema a real
// kube-apiserver serves, without starting one: for fuzzing and unit tests.
func CELEnv() (*cel.Env, error) { return podschema.CELEnv() }
