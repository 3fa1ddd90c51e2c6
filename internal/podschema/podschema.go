// Package podschema holds the Pod's OpenAPI schema as kube-apiserver v1.37
// serves it, so that what compiles offline (kubectl rgp test, the fuzz
// targets) compiles exactly as in the cluster, where the operator resolves
// the schema from the API server. internal/testenv's suite rewrites and
// checks the snapshot against a real kube-apiserver.
package podschema

import (
	_ "embed"
	"encoding/json"
	"fmt"

	"k8s.io/kube-openapi/pkg/validation/spec"

	"github.com/readygate/readygate/internal/cel"
)

// File is the snapshot's name in this package's directory.
const File = "pod.json"

//go:embed pod.json
var podJSON []byte

// Schema returns the Pod's schema from the snapshot.
func Schema() (*spec.Schema, error) {
	s := &spec.Schema{}
	if err := json.Unmarshal(podJSON, s); err != nil {
		return nil, fmt.Errorf("decoding the Pod schema snapshot %s: %w", File, err)
	}
	return s, nil
}

// CELEnv is the operator's CEL environment typed by the snapshot.
func CELEnv() (*cel.Env, error) {
	s, err := Schema()
	if err != nil {
		return nil, err
	}
	return cel.NewEnv(s)
}
