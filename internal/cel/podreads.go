package cel

import (
	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/ast"
)

// podMetadataFields are the pod's fields an expression can read without its
// spec or status.
var podMetadataFields = map[string]bool{podMetadataField: true, podAPIVersionField: true, podKindField: true}

// readsPodBody reports whether a checked expression can read the pod's spec
// or status: it selects one of them, or uses `pod` other than to select
// its metadata (passing it whole to a function, comparing it, indexing it).
func readsPodBody(checked *cel.Ast) bool {
	refs := checked.NativeRep().ReferenceMap()
	isPod := func(e ast.Expr) bool {
		r, ok := refs[e.ID()]
		return e.Kind() == ast.IdentKind && ok && r.Name == VarPod
	}
	uses, metadataOnly := 0, 0
	ast.PreOrderVisit(checked.NativeRep().Expr(), ast.NewExprVisitor(func(e ast.Expr) {
		switch {
		case isPod(e):
			uses++
		case e.Kind() == ast.SelectKind && isPod(e.AsSelect().Operand()) && podMetadataFields[e.AsSelect().FieldName()]:
			metadataOnly++
		}
	}))
	return uses > metadataOnly
}

// ReadsPodBody reports whether any of the policy's expressions can read the
// pod's spec or status, which a cache that keeps less of them must restore
// before an evaluation.
func (p *Program) ReadsPodBody() bool { return p.readsPodBody }
