// Package querycred takes credentials out of a request's query string as
// soon as a route's policy chain starts, and keeps them in the request's
// context for the authentication methods that read them.
//
// A token sent as ?access_token= must be neither proxied nor logged. The
// methods used to remove it when they read it, but a phase before
// authentication (an IP filter, a rate limit by address, a body limit)
// may answer first, and of several alternative methods the first that
// decides ends the step, leaving the others' parameters in place. The
// chain therefore calls Strip first with every query parameter its
// methods read, and the methods call Take.
package querycred

import (
	"context"
	"net/http"
	"slices"

	"github.com/bouncer-proxy/bouncer/l7"
)

// taken is what Strip removed from one request.
type taken struct {
	names  []string // every name Strip was given (shared, read-only)
	values map[string]string
}

type ctxKey struct{}

// Strip removes every parameter called one of names from r.URL and
// r.RequestURI, in place so that whoever holds r (the access log) sees
// the URL without them, and returns r with their first values in its
// context for Take; r itself when none was there. names is kept and must
// not change. Called from the request's goroutine.
func Strip(r *http.Request, names []string) *http.Request {
	var t *taken
	for _, name := range names {
		v, ok := l7.TakeQueryParam(r, name)
		if !ok {
			continue
		}
		if t == nil {
			t = &taken{names: names, values: make(map[string]string, len(names))}
		}
		t.values[name] = v
	}
	if t == nil {
		return r
	}
	return r.WithContext(context.WithValue(r.Context(), ctxKey{}, t))
}

// Take returns the first value of query parameter name and whether the
// request had it: what Strip took, when Strip ran for name; otherwise it
// takes the parameter out of r's URL now (l7.TakeQueryParam), for an
// authenticator used outside a policy chain.
func Take(r *http.Request, name string) (string, bool) {
	if t, ok := r.Context().Value(ctxKey{}).(*taken); ok && slices.Contains(t.names, name) {
		v, found := t.values[name]
		return v, found
	}
	return l7.TakeQueryParam(r, name)
}
