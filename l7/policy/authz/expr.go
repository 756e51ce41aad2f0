package authz

import (
	"fmt"
	"reflect"
	"strings"

	"cel.dev/cel-go/cel"
	celast "cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/ext"
)

// DefaultCostLimit bounds the work of one expression on one request, in
// CEL's cost units (about one per operation and per list or map element
// visited). A plain comparison costs a few units.
const DefaultCostLimit = 100_000

// interruptEvery is how many comprehension iterations run between checks
// of the request's context, so an abandoned request stops evaluating.
const interruptEvery = 100

// newEnv declares the two variables with their Go-described types, so a
// misspelled field (request.methd) is a compile error, not a per-request
// one.
func newEnv() (*cel.Env, error) {
	env, err := cel.NewEnv(
		ext.NativeTypes(reflect.TypeFor[Request](), reflect.TypeFor[Identity](), reflect.TypeFor[ClientCert](),
			ext.ParseStructTags(true)),
		cel.Variable("request", cel.ObjectType("authz.Request")),
		cel.Variable("identity", cel.ObjectType("authz.Identity")),
	)
	if err != nil {
		return nil, fmt.Errorf("authz: cel environment: %w", err)
	}
	return env, nil
}

// compile parses, type-checks and plans each expression. An error names
// the expression (1-based, as in the messages of Check) and the position
// of each problem.
func compile(env *cel.Env, exprs []string, costLimit uint64) ([]cel.Program, needs, error) {
	var n needs
	progs := make([]cel.Program, 0, len(exprs))
	for i, src := range exprs {
		ast, iss := env.Compile(src)
		if iss.Err() != nil {
			return nil, n, fmt.Errorf("authz: expression %d %q: %s", i+1, src, issueText(iss))
		}
		if !ast.OutputType().IsExactType(cel.BoolType) {
			return nil, n, fmt.Errorf("authz: expression %d %q: result is %s, want bool", i+1, src, ast.OutputType())
		}
		prg, err := env.Program(ast,
			cel.CostLimit(costLimit),
			cel.InterruptCheckFrequency(interruptEvery),
			cel.EvalOptions(cel.OptOptimize),
		)
		if err != nil {
			return nil, n, fmt.Errorf("authz: expression %d %q: %w", i+1, src, err)
		}
		progs = append(progs, prg)
		addNeeds(&n, ast.NativeRep())
	}
	return progs, n, nil
}

// issueText lists each problem as line:column: message.
func issueText(iss *cel.Issues) string {
	var b strings.Builder
	for i, e := range iss.Errors() {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%d:%d: %s", e.Location.Line(), e.Location.Column()+1, e.Message)
	}
	return b.String()
}

// addNeeds marks the parts of `request` that a must have built: a field
// selected by name, or everything when `request` is used whole.
func addNeeds(n *needs, a *celast.AST) {
	root := celast.NavigateAST(a)
	for _, e := range celast.MatchDescendants(root, celast.KindMatcher(celast.IdentKind)) {
		if e.AsIdent() != "request" {
			continue
		}
		p, ok := e.Parent()
		if !ok || p.Kind() != celast.SelectKind {
			n.headers, n.query = true, true
			continue
		}
		switch p.AsSelect().FieldName() {
		case "headers":
			n.headers = true
		case "query":
			n.query = true
		}
	}
}
