package cel

import (
	"fmt"
	"reflect"

	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/common/types/traits"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/cel/common"
)

// podObject is the pod as a typed environment reads it: each section is
// converted on its first read and kept for the rest of the evaluation.
// lazy.MapValue would do the same, but it allocates two maps per pod and
// runs the apiserver's identifier unescaping, a regular expression, on every
// field read; Pod field names are plain identifiers and need none.
type podObject struct {
	pod                    *corev1.Pod
	schema                 common.Schema
	metadata, spec, status ref.Val
}

var (
	podObjectType = types.NewObjectType(podTypeName, traits.IndexerType|traits.FieldTesterType)
	podAPIVersion = types.String("v1")
	podKind       = types.String("Pod")
)

var _ traits.Indexer = (*podObject)(nil)
var _ traits.FieldTester = (*podObject)(nil)

// The pod's top-level fields.
const (
	podAPIVersionField = "apiVersion"
	podKindField       = "kind"
	podMetadataField   = "metadata"
	podSpecField       = "spec"
	podStatusField     = "status"
)

func (p *podObject) field(name string) ref.Val {
	props := p.schema.Properties()
	switch name {
	case podAPIVersionField:
		return podAPIVersion
	case podKindField:
		return podKind
	case podMetadataField:
		if p.metadata == nil {
			p.metadata = &metadataObject{meta: &p.pod.ObjectMeta, schema: props[podMetadataField]}
		}
		return p.metadata
	case podSpecField:
		if p.spec == nil {
			p.spec = section(&p.pod.Spec, props[podSpecField])
		}
		return p.spec
	case podStatusField:
		if p.status == nil {
			p.status = section(&p.pod.Status, props[podStatusField])
		}
		return p.status
	}
	return nil
}

func (p *podObject) Get(key ref.Val) ref.Val {
	name, ok := key.(types.String)
	if !ok {
		return types.MaybeNoSuchOverloadErr(key)
	}
	if v := p.field(string(name)); v != nil {
		return v
	}
	return types.NewErr("no such key: %v", key)
}

func (p *podObject) IsSet(key ref.Val) ref.Val {
	name, ok := key.(types.String)
	if !ok {
		return types.MaybeNoSuchOverloadErr(key)
	}
	return types.Bool(p.field(string(name)) != nil)
}

func (p *podObject) ConvertToNative(typeDesc reflect.Type) (any, error) {
	return nil, fmt.Errorf("disallowed conversion from %s to %s", podTypeName, typeDesc)
}

func (p *podObject) ConvertToType(t ref.Type) ref.Val {
	switch t {
	case podObjectType:
		return p
	case types.TypeType:
		return podObjectType
	}
	return types.NewErr("disallowed conversion from %s to %s", podTypeName, t.TypeName())
}

func (p *podObject) Equal(other ref.Val) ref.Val {
	o, ok := other.(*podObject)
	if !ok {
		return types.MaybeNoSuchOverloadErr(other)
	}
	return types.Bool(p.pod == o.pod)
}

func (p *podObject) Type() ref.Type { return podObjectType }
func (p *podObject) Value() any     { return p.pod }

// metadataObject serves the fields nearly every expression reads (name,
// namespace, labels, annotations) straight from the ObjectMeta, and every
// other read, comparison and conversion from its reflected value, so that it
// behaves exactly like it.
type metadataObject struct {
	meta                *metav1.ObjectMeta
	schema              common.Schema
	labels, annotations ref.Val
	typed               ref.Val
}

var _ traits.Indexer = (*metadataObject)(nil)
var _ traits.FieldTester = (*metadataObject)(nil)

// field returns a fast-path field and whether name is one; a nil value is
// an unset field (as with omitempty).
func (m *metadataObject) field(name string) (ref.Val, bool) {
	switch name {
	case "name":
		return stringOrUnset(m.meta.Name), true
	case "namespace":
		return stringOrUnset(m.meta.Namespace), true
	case "labels":
		return stringMapOrUnset(m.meta.Labels, &m.labels), true
	case "annotations":
		return stringMapOrUnset(m.meta.Annotations, &m.annotations), true
	}
	return nil, false
}

func stringOrUnset(s string) ref.Val {
	if s == "" {
		return nil
	}
	return types.String(s)
}

func stringMapOrUnset(m map[string]string, memo *ref.Val) ref.Val {
	if len(m) == 0 {
		return nil
	}
	if *memo == nil {
		*memo = types.NewStringStringMap(types.DefaultTypeAdapter, m)
	}
	return *memo
}

func (m *metadataObject) reflected() ref.Val {
	if m.typed == nil {
		m.typed = common.TypedToVal(m.meta, m.schema)
	}
	return m.typed
}

func (m *metadataObject) Get(key ref.Val) ref.Val {
	if name, ok := key.(types.String); ok {
		if v, fast := m.field(string(name)); fast {
			if v == nil {
				return types.NewErr("no such key: %v", key)
			}
			return v
		}
	}
	return m.reflected().(traits.Indexer).Get(key)
}

func (m *metadataObject) IsSet(key ref.Val) ref.Val {
	if name, ok := key.(types.String); ok {
		if v, fast := m.field(string(name)); fast {
			return types.Bool(v != nil)
		}
	}
	return m.reflected().(traits.FieldTester).IsSet(key)
}

func (m *metadataObject) ConvertToNative(t reflect.Type) (any, error) {
	return m.reflected().ConvertToNative(t)
}
func (m *metadataObject) ConvertToType(t ref.Type) ref.Val { return m.reflected().ConvertToType(t) }
func (m *metadataObject) Equal(other ref.Val) ref.Val {
	if o, ok := other.(*metadataObject); ok {
		other = o.reflected()
	}
	return m.reflected().Equal(other)
}
func (m *metadataObject) Type() ref.Type { return m.reflected().Type() }
func (m *metadataObject) Value() any     { return m.meta }

// section converts a pod section through unstructured data, as CRD
// validation rules read objects. (common.TypedToVal would skip the
// conversion but fails on maps keyed by named string types, such as
// resources.limits.)
func section(obj any, schema common.Schema) ref.Val {
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return types.NewErr("converting the pod for CEL: %v", err)
	}
	return common.UnstructuredToVal(u, schema)
}
