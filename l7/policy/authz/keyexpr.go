package authz

import (
	"fmt"
	"net/http"

	"cel.dev/cel-go/cel"

	"github.com/bouncer-proxy/bouncer/l7"
)

// KeyExpr is a CEL expression of type string over the same request and
// identity variables as authorization expressions, such as
// `identity.consumer + ":" + request.headers["x-tenant"]`: rate limits
// use it as their counting key. Compiled once; safe for concurrent use.
type KeyExpr struct {
	prg   cel.Program
	needs needs
}

// NewKeyExpr compiles src, which must yield a string.
func NewKeyExpr(src string) (*KeyExpr, error) {
	env, err := newEnv()
	if err != nil {
		return nil, err
	}
	ast, iss := env.Compile(src)
	if iss.Err() != nil {
		return nil, fmt.Errorf("cel key %q: %s", src, issueText(iss))
	}
	if !ast.OutputType().IsExactType(cel.StringType) {
		return nil, fmt.Errorf("cel key %q: result is %s, want string", src, ast.OutputType())
	}
	prg, err := env.Program(ast, cel.CostLimit(DefaultCostLimit), cel.InterruptCheckFrequency(interruptEvery),
		cel.EvalOptions(cel.OptOptimize))
	if err != nil {
		return nil, fmt.Errorf("cel key %q: %w", src, err)
	}
	k := &KeyExpr{prg: prg}
	addNeeds(&k.needs, ast.NativeRep())
	return k, nil
}

// Eval returns the key for r; false when the expression fails (a missing
// header, say) or yields the empty string.
func (k *KeyExpr) Eval(r *http.Request) (string, bool) {
	act := &activation{r: r, info: l7.InfoFrom(r.Context()), needs: k.needs}
	out, _, err := k.prg.ContextEval(r.Context(), act)
	if err != nil {
		return "", false
	}
	s, ok := out.Value().(string)
	return s, ok && s != ""
}
