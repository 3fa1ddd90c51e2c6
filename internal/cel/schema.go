package cel

import "k8s.io/apiserver/pkg/cel/common"

// memoSchema answers Properties, Items and AdditionalProperties from values
// built once. The openapi adaptor builds a new map on every Properties call,
// and the pod's runtime value asks for it on every field it reads.
type memoSchema struct {
	common.Schema
	props map[string]common.Schema
	items common.Schema
	addl  common.SchemaOrBool
}

type memoSchemaOrBool struct {
	common.SchemaOrBool
	schema common.Schema
}

func (s *memoSchemaOrBool) Schema() common.Schema { return s.schema }

// memoize wraps a schema tree, which after reference resolution is finite.
func memoize(s common.Schema) common.Schema {
	if s == nil {
		return nil
	}
	m := &memoSchema{Schema: s}
	if props := s.Properties(); props != nil {
		m.props = make(map[string]common.Schema, len(props))
		for name, p := range props {
			m.props[name] = memoize(p)
		}
	}
	if items := s.Items(); items != nil {
		m.items = memoize(items)
	}
	if addl := s.AdditionalProperties(); addl != nil {
		m.addl = &memoSchemaOrBool{SchemaOrBool: addl, schema: memoize(addl.Schema())}
	}
	return m
}

func (s *memoSchema) Properties() map[string]common.Schema      { return s.props }
func (s *memoSchema) Items() common.Schema                      { return s.items }
func (s *memoSchema) AdditionalProperties() common.SchemaOrBool { return s.addl }
