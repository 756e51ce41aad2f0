// Package authz decides, per route, whether an authenticated caller may
// make a request: required scopes, roles and claims, and CEL expressions
// over the request and the caller's identity. It runs after the route's
// authentication policy, which sets l7.Info.Identity.
package authz

import (
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"

	"github.com/bouncer-proxy/bouncer/l7"
)

// Options is a route's authorization policy. All rules given must hold.
type Options struct {
	// RequireScopes must all be granted (l7.Identity.Scopes).
	RequireScopes []string
	// RequireRoles: at least one of them must be granted (any-of: a
	// route usually names the roles that may call it). Roles come from the
	// claim RolesClaim names.
	RequireRoles []string
	// RolesClaim is the dotted path of the roles claim: a list of strings
	// or one space- or comma-separated string. Default "roles"; Keycloak
	// tokens use "realm_access.roles".
	RolesClaim string
	// RequireClaims maps a dotted claim path ("tenant", "org.id") to the
	// values it may have; a list claim passes when one element does. A
	// key holding dots is matched whole before the path is split.
	RequireClaims map[string][]string
	// Expressions are CEL expressions that must all be true. They see
	// `request` (method, path, host, headers: lowercase name → first
	// value, query: name → first value, client_ip) and `identity`
	// (method, consumer, subject, claims, scopes, metadata, client_cert:
	// {subject, sans, spiffe, sha256}); see Request and Identity.
	// Each must type-check to bool: a claim is dyn, so compare it
	// (identity.claims.admin == true) rather than use it bare. A missing
	// map key is an evaluation error, which refuses the request; test it
	// first ("x-tenant" in request.headers) when it may be absent.
	Expressions []string
	// AllowAnonymous lets requests without an identity (or with the
	// "anonymous" one) through to the expressions instead of refusing
	// them. It cannot be combined with required scopes, roles or claims,
	// which an anonymous caller never has.
	AllowAnonymous bool
	// CostLimit bounds each expression's evaluation (DefaultCostLimit
	// when 0); past it the request is refused.
	CostLimit uint64
}

// Authorizer is a compiled policy. It is immutable and safe for concurrent
// use.
type Authorizer struct {
	scopes    []string
	roles     []string
	rolesPath string
	claims    []claimRule
	programs  []cel.Program
	needs     needs
	anonymous bool
}

// New compiles and type-checks o. An expression error names the
// expression and the line:column of each problem.
func New(o Options) (*Authorizer, error) {
	if o.AllowAnonymous && (len(o.RequireScopes) > 0 || len(o.RequireRoles) > 0 || len(o.RequireClaims) > 0) {
		return nil, errors.New("authz: allow_anonymous cannot be combined with required scopes, roles or claims")
	}
	a := &Authorizer{
		scopes:    o.RequireScopes,
		roles:     o.RequireRoles,
		rolesPath: o.RolesClaim,
		anonymous: o.AllowAnonymous,
	}
	if a.rolesPath == "" {
		a.rolesPath = "roles"
	}
	var err error
	if a.claims, err = compileClaims(o.RequireClaims); err != nil {
		return nil, err
	}
	if len(o.Expressions) > 0 {
		env, err := newEnv()
		if err != nil {
			return nil, err
		}
		limit := o.CostLimit
		if limit == 0 {
			limit = DefaultCostLimit
		}
		if a.programs, a.needs, err = compile(env, o.Expressions, limit); err != nil {
			return nil, err
		}
	}
	return a, nil
}

// Check reports whether r may proceed: nil, or an *l7.Error with status
// 403 whose message names the first rule that failed ("no identity",
// "missing scope orders:write", "missing role (one of: admin, ops)",
// "claim tenant does not match", "expression 2 is false", "expression 2
// could not be evaluated"). A request without an identity is refused with
// 403 "no identity", not 401: authentication runs before and has already
// answered 401 to missing credentials where the route requires them.
// Check is called from the request's goroutine; it does not block beyond
// the evaluation, which stops when r's context ends.
func (a *Authorizer) Check(r *http.Request) error {
	info := l7.InfoFrom(r.Context())
	var id *l7.Identity
	if info != nil {
		id = info.Identity
	}
	if id == nil || id.Method == "anonymous" {
		if !a.anonymous {
			return forbidden("no identity")
		}
	} else if err := a.checkIdentity(id); err != nil {
		return err
	}
	if len(a.programs) == 0 {
		return nil
	}
	act := &activation{r: r, info: info, needs: a.needs}
	for i, prg := range a.programs {
		out, _, err := prg.ContextEval(r.Context(), act)
		if err != nil {
			return l7.Wrap(err, http.StatusForbidden, l7.CodeForbidden, exprMessage(i, "could not be evaluated"))
		}
		if out != types.True {
			return forbidden(exprMessage(i, "is false"))
		}
	}
	return nil
}

// checkIdentity applies the scope, role and claim rules.
func (a *Authorizer) checkIdentity(id *l7.Identity) error {
	for _, s := range a.scopes {
		if !slices.Contains(id.Scopes, s) {
			return forbidden("missing scope " + s)
		}
	}
	if len(a.roles) > 0 && !hasRole(id.Claims, a.rolesPath, a.roles) {
		return forbidden("missing role (one of: " + strings.Join(a.roles, ", ") + ")")
	}
	for _, c := range a.claims {
		if !c.ok(id.Claims) {
			return forbidden("claim " + c.path + " does not match")
		}
	}
	return nil
}

// Wrap returns a handler that answers a refused request with its JSON
// error (l7.WriteError) and passes the others to next.
func (a *Authorizer) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := a.Check(r); err != nil {
			l7.WriteError(w, r, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func forbidden(msg string) *l7.Error {
	return l7.Errorf(http.StatusForbidden, l7.CodeForbidden, "%s", msg)
}

// exprMessage numbers expressions from 1, as written in the config.
func exprMessage(i int, what string) string {
	return "expression " + strconv.Itoa(i+1) + " " + what
}
