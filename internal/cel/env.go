// Package cel compiles and evaluates a policy's CEL expressions in the
// Kubernetes CEL dialect (k8s.io/apiserver's environment and libraries), so an
// expression that works in a ValidatingAdmissionPolicy works here too.
package cel

import (
	"fmt"

	"github.com/google/cel-go/cel"
	"k8s.io/apimachinery/pkg/util/version"
	apiservercel "k8s.io/apiserver/pkg/cel"
	"k8s.io/apiserver/pkg/cel/common"
	"k8s.io/apiserver/pkg/cel/environment"
	"k8s.io/apiserver/pkg/cel/openapi"
	"k8s.io/kube-openapi/pkg/validation/spec"
)

// Names of the variables every expression can read.
const (
	VarPod       = "pod"
	VarGate      = "gate"
	VarNow       = "now"
	VarVariables = "variables"
)

const (
	podTypeName       = "io.k8s.api.core.v1.Pod"
	gateTypeName      = "readygate.Gate"
	variablesTypeName = "readygate.Variables"
)

// Env compiles policies. It is built once per manager and is safe for
// concurrent use.
type Env struct {
	base *environment.EnvSet
}

// NewEnv returns the environment that every policy compiles in. podSchema is
// the Pod's OpenAPI schema (from the cluster's discovery); with it, a
// reference to a field a Pod does not have is a compile error. Without it the
// pod is dynamically typed.
func NewEnv(podSchema *spec.Schema) (*Env, error) {
	podType := apiservercel.DynType
	if podSchema != nil {
		podType = common.SchemaDeclType(&openapi.Schema{Schema: podSchema}, true)
		if podType == nil {
			return nil, fmt.Errorf("the Pod schema cannot be used in CEL")
		}
		podType = podType.MaybeAssignTypeName(podTypeName)
	}
	gateType := apiservercel.NewObjectType(gateTypeName, map[string]*apiservercel.DeclField{
		"status":             apiservercel.NewDeclField("status", apiservercel.StringType, true, nil, nil),
		"reason":             apiservercel.NewDeclField("reason", apiservercel.StringType, true, nil, nil),
		"lastTransitionTime": apiservercel.NewDeclField("lastTransitionTime", apiservercel.TimestampType, false, nil, nil),
	})
	declTypes := []*apiservercel.DeclType{gateType}
	if podSchema != nil {
		declTypes = append(declTypes, podType)
	}
	base, err := environment.MustBaseEnvSet(environment.DefaultCompatibilityVersion()).Extend(
		environment.VersionedOptions{
			IntroducedVersion: version.MajorMinor(1, 0),
			EnvOptions: []cel.EnvOption{
				cel.Variable(VarPod, podType.CelType()),
				cel.Variable(VarGate, gateType.CelType()),
				cel.Variable(VarNow, cel.TimestampType),
			},
			DeclTypes: declTypes,
		},
		environment.StrictCostOpt,
	)
	if err != nil {
		return nil, fmt.Errorf("building the CEL environment: %w", err)
	}
	return &Env{base: base}, nil
}
