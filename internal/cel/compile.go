package cel

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/google/cel-go/cel"
	celcommon "github.com/google/cel-go/common"
	"k8s.io/apimachinery/pkg/util/version"
	apiservercel "k8s.io/apiserver/pkg/cel"
	"k8s.io/apiserver/pkg/cel/environment"
	"k8s.io/apiserver/pkg/cel/lazy"
)

// Variable is a named expression that others read as variables.<name>.
type Variable struct {
	Name       string
	Expression string
}

// Source declares an optional data source as a variable, e.g. http.
type Source struct {
	Name string
	// Type is the variable's declared type; CelType is used instead for
	// opaque types that carry functions.
	Type    *apiservercel.DeclType
	CelType *cel.Type
	// DeclTypes are nested object types that Type refers to.
	DeclTypes []*apiservercel.DeclType
	// Options add the source's functions, and ProgramOptions what they
	// cost at run time.
	Options        []cel.EnvOption
	ProgramOptions []cel.ProgramOption
}

// Policy holds the expressions of one policy and the sources it enables.
type Policy struct {
	Variables         []Variable
	Expression        string
	MessageExpression string
	Sources           []Source
}

// Program is a compiled policy, ready to evaluate many times concurrently.
type Program struct {
	env          *Env
	readsClock   bool
	readsPodBody bool
	// metricNames are the scraped metrics the expressions read by constant
	// name; metricsAll is set when one is read by a computed name.
	metricNames []string
	metricsAll  bool
	expression  *compiled
	message     *compiled
	variables   []*compiled
	varType     *apiservercel.DeclType
	// noVariables is shared by every evaluation of a policy without
	// variables: with no callbacks it is never written.
	noVariables *lazy.MapValue
}

type compiled struct {
	name    string // the variable's name; empty for the expressions
	program cel.Program
}

// CompileError lists every expression of a policy that failed to compile,
// each with its field path, position and cause.
type CompileError struct {
	Errors []FieldError
}

// FieldError is one expression's compile error.
type FieldError struct {
	Field  string // e.g. spec.variables[1].expression
	Detail string
}

func (e *CompileError) Error() string {
	msgs := make([]string, len(e.Errors))
	for i, fe := range e.Errors {
		msgs[i] = fe.Field + ": " + fe.Detail
	}
	return strings.Join(msgs, "; ")
}

// Compile type-checks every expression of a policy and returns a program.
// On failure the error is a *CompileError. stored compiles a policy the API
// server already holds with the environment of stored expressions, which
// keeps every library of past versions; new or changed expressions get the
// environment of new expressions, as ValidatingAdmissionPolicy does, so an
// operator upgrade or downgrade never breaks an accepted policy.
func (e *Env) Compile(p Policy, stored bool) (*Program, error) {
	// The variables type is built anew per policy: each variable adds its
	// field once it has compiled, so a variable can read only earlier ones.
	varType := apiservercel.NewObjectType(variablesTypeName, map[string]*apiservercel.DeclField{})
	opts := make([]cel.EnvOption, 0, len(p.Sources)+1)
	decls := make([]*apiservercel.DeclType, 0, len(p.Sources)+1)
	decls = append(decls, varType)
	opts = append(opts, cel.Variable(VarVariables, varType.CelType()))
	var progOpts []cel.ProgramOption
	for _, s := range p.Sources {
		opts = append(opts, s.Options...)
		progOpts = append(progOpts, s.ProgramOptions...)
		decls = append(decls, s.DeclTypes...)
		if s.CelType != nil {
			opts = append(opts, cel.Variable(s.Name, s.CelType))
			continue
		}
		opts = append(opts, cel.Variable(s.Name, s.Type.CelType()))
		if s.Type.IsObject() {
			decls = append(decls, s.Type)
		}
	}
	envSet, err := e.base.Extend(environment.VersionedOptions{
		IntroducedVersion: version.MajorMinor(1, 0),
		EnvOptions:        opts,
		ProgramOptions:    progOpts,
		DeclTypes:         decls,
	})
	if err != nil {
		return nil, fmt.Errorf("extending the CEL environment: %w", err)
	}
	envType := environment.NewExpressions
	if stored {
		envType = environment.StoredExpressions
	}
	env, err := envSet.Env(envType)
	if err != nil {
		return nil, fmt.Errorf("loading the CEL environment: %w", err)
	}

	prog := &Program{env: e, varType: varType, noVariables: lazy.NewMapValue(varType)}
	names := map[string]bool{}
	var errs []FieldError
	for i, v := range p.Variables {
		field := fmt.Sprintf("spec.variables[%d].expression", i)
		c, ast, ferr := compileOne(env, stored, field, v.Expression, nil)
		if ferr != nil {
			errs = append(errs, *ferr)
			continue
		}
		c.name = v.Name
		prog.learn(ast, names)
		prog.variables = append(prog.variables, c)
		varType.Fields[v.Name] = apiservercel.NewDeclField(v.Name, declTypeOf(ast.OutputType()), true, nil, nil)
	}
	if c, ast, ferr := compileOne(env, stored, "spec.expression", p.Expression, cel.BoolType); ferr != nil {
		errs = append(errs, *ferr)
	} else {
		prog.expression = c
		prog.learn(ast, names)
	}
	if p.MessageExpression != "" {
		if c, ast, ferr := compileOne(env, stored, "spec.messageExpression", p.MessageExpression, cel.StringType); ferr != nil {
			errs = append(errs, *ferr)
		} else {
			prog.message = c
			prog.learn(ast, names)
		}
	}
	if len(errs) > 0 {
		for i := range errs {
			errs[i].Detail += undeclaredSourceHint(errs[i].Detail, p.Sources)
		}
		return nil, &CompileError{Errors: errs}
	}
	prog.metricNames = slices.Sorted(maps.Keys(names))
	return prog, nil
}

// undeclaredSourceHint tells the author of an expression that reads a source
// the policy does not declare how to declare it: CEL says only that the
// name is undeclared.
func undeclaredSourceHint(detail string, declared []Source) string {
	var hints []string
	for _, name := range []string{VarEndpoints, VarHTTP, VarMetrics, VarPrometheus} {
		if strings.Contains(detail, "undeclared reference to '"+name+"'") &&
			!slices.ContainsFunc(declared, func(s Source) bool { return s.Name == name }) {
			hints = append(hints, fmt.Sprintf("spec.sources.%s is not set: declare it to read %s", name, name))
		}
	}
	if len(hints) == 0 {
		return ""
	}
	return " (" + strings.Join(hints, "; ") + ")"
}

// compileOne parses, type-checks and plans one expression. want, when set, is
// the type the expression must have. The cost estimate judges new and
// changed expressions only, as the API server's does: a stored one was
// admitted, and an operator upgrade whose estimates know more must not take
// it away (the run-time limit still holds).
func compileOne(env *cel.Env, stored bool, field, expr string, want *cel.Type) (*compiled, *cel.Ast, *FieldError) {
	ast, issues := env.CompileSource(celcommon.NewStringSource(expr, field))
	if issues != nil && issues.Err() != nil {
		return nil, nil, &FieldError{Field: field, Detail: "compilation failed: " + strings.TrimSpace(issues.String())}
	}
	if want != nil && !ast.OutputType().IsExactType(want) && !ast.OutputType().IsExactType(cel.DynType) {
		return nil, nil, &FieldError{Field: field, Detail: fmt.Sprintf("must evaluate to %s but evaluates to %s", want, ast.OutputType())}
	}
	if ferr := checkEstimatedCost(env, field, ast); ferr != nil && !stored {
		return nil, nil, ferr
	}
	program, err := env.Program(ast, cel.InterruptCheckFrequency(100), cel.CostTracking(&sizedCost{}))
	if err != nil {
		return nil, nil, &FieldError{Field: field, Detail: "program instantiation failed: " + err.Error()}
	}
	return &compiled{program: program}, ast, nil
}

// learn records what one checked expression of the policy reads.
func (p *Program) learn(checked *cel.Ast, metrics map[string]bool) {
	p.readsClock = p.readsClock || reads(checked, VarNow)
	p.readsPodBody = p.readsPodBody || readsPodBody(checked)
	p.metricsAll = !metricNames(checked, metrics) || p.metricsAll
}

// ReadsClock reports whether any of the policy's expressions reads `now`: its
// result can change with no change to the pod.
func (p *Program) ReadsClock() bool { return p.readsClock }

// reads reports whether a checked expression refers to the variable.
func reads(ast *cel.Ast, variable string) bool {
	for _, ref := range ast.NativeRep().ReferenceMap() {
		if ref.Name == variable {
			return true
		}
	}
	return false
}

// scalarDeclTypes are the variable result types that keep their type when
// other expressions read them; anything else is read as dyn.
var scalarDeclTypes = []struct {
	cel  *cel.Type
	decl *apiservercel.DeclType
}{
	{cel.BoolType, apiservercel.BoolType},
	{cel.IntType, apiservercel.IntType},
	{cel.UintType, apiservercel.UintType},
	{cel.DoubleType, apiservercel.DoubleType},
	{cel.StringType, apiservercel.StringType},
	{cel.BytesType, apiservercel.BytesType},
	{cel.DurationType, apiservercel.DurationType},
	{cel.TimestampType, apiservercel.TimestampType},
}

// declTypeOf maps a variable's output type to the declared type of its field,
// so that expressions reading it are type-checked against it.
func declTypeOf(t *cel.Type) *apiservercel.DeclType {
	for _, s := range scalarDeclTypes {
		if t.IsExactType(s.cel) {
			return s.decl
		}
	}
	return apiservercel.DynType
}
