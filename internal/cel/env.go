// Package cel compiles and evaluates a policy's CEL expressions in the
// Kubernetes CEL dialect (k8s.io/apiserver's environment and libraries), so an
// expression that works in a ValidatingAdmissionPolicy works here too.
package cel

import (
	"fmt"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types/ref"
	corev1 "k8s.io/api/core/v1"
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
	// podSchema types the pod's runtime value the way podType declares it;
	// nil when the pod is dynamically typed.
	podSchema common.Schema
}

// NewEnv returns the environment that every policy compiles in. podSchema is
// the Pod's OpenAPI schema (from the cluster's discovery); with it, a
// reference to a field a Pod does not have is a compile error. Without it the
// pod is dynamically typed.
func NewEnv(podSchema *spec.Schema) (*Env, error) {
	podType := apiservercel.DynType
	var schema common.Schema
	if podSchema != nil {
		schema = memoize(&openapi.Schema{Schema: quantitiesAsStrings(podSchema)})
		podType = common.SchemaDeclType(schema, true)
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
	return &Env{base: base, podSchema: schema}, nil
}

// podValue exposes the pod to CEL typed as the environment declares it.
func (e *Env) podValue(pod *corev1.Pod) ref.Val {
	if e.podSchema == nil {
		return common.SchemalessTypedToVal(pod)
	}
	return &podObject{pod: pod, schema: e.podSchema}
}

// quantitiesAsStrings returns a copy of the schema in which every
// resource.Quantity (a oneOf of string and number, with no type of its own)
// is a string. CEL would otherwise hide such fields, e.g. resources.limits,
// and Kubernetes CEL represents a quantity as a string anyway.
func quantitiesAsStrings(s *spec.Schema) *spec.Schema {
	if s == nil {
		return nil
	}
	out := *s
	if len(out.Type) == 0 && len(out.OneOf) > 0 {
		out.Type = spec.StringOrArray{"string"}
		out.OneOf = nil
	}
	if len(s.Properties) > 0 {
		out.Properties = make(map[string]spec.Schema, len(s.Properties))
		for name, prop := range s.Properties {
			out.Properties[name] = *quantitiesAsStrings(&prop)
		}
	}
	if s.Items != nil && s.Items.Schema != nil {
		out.Items = &spec.SchemaOrArray{Schema: quantitiesAsStrings(s.Items.Schema)}
	}
	if s.AdditionalProperties != nil && s.AdditionalProperties.Schema != nil {
		out.AdditionalProperties = &spec.SchemaOrBool{Allows: true, Schema: quantitiesAsStrings(s.AdditionalProperties.Schema)}
	}
	return &out
}
