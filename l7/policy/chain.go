// Package policy compiles the named API policies of a config into
// middleware and assembles each route's chain in the fixed phase order:
//
//	(query credentials taken out) → ip_filter → body_limit → cors
//	→ rate_limit (by address, header, route)
//	→ authentication (any of the route's methods) → authorize
//	→ rate_limit (by consumer, claim, CEL) → compress → cache → headers → terminal
//
// whatever order a route lists its policies in. Each named policy is built
// once per config generation and shared by the routes that list it; the
// state that must outlive a reload (rate-limit counters, cache entries,
// JWKS keys, Redis connections) lives in State. The policy packages do the
// work: jwtauth, credauth, authz, ratelimit, cache, compress, cors,
// ipfilter; querycred carries query-string credentials from the start of
// the chain to authentication.
package policy

import (
	"cmp"
	"net/http"
	"slices"

	"github.com/bouncer-proxy/bouncer/l7"
	"github.com/bouncer-proxy/bouncer/l7/policy/cache"
	"github.com/bouncer-proxy/bouncer/l7/policy/querycred"
)

// Phase orders a route's policies; lower runs first (outermost).
type Phase int

// The phases, in the order they run.
const (
	PhaseIPFilter Phase = iota
	PhaseBodyLimit
	PhaseCORS
	PhaseRateLimit // keyed by what the request says: address, header, route
	PhaseAuthn
	PhaseAuthz
	PhaseRateLimitIdentity // keyed by who authentication said it is
	PhaseCompress
	PhaseCache
	PhaseHeaders
)

// built is one compiled named policy.
type built struct {
	name  string
	kind  string
	phase Phase
	wrap  func(http.Handler) http.Handler // nil for authentication kinds
	auth  l7.Authenticator                // authentication kinds
	anon  string                          // anonymous: the consumer name
	close func()                          // releases what the policy holds (nil: nothing)
	cache *cache.Cache                    // cache policies, for purges
	store string                          // the State key of a kept store it uses ("": none)
}

// Chain wraps terminal in the policies named (the listener's first, then
// the route's), sorted by phase; authentication policies become one step
// that tries them in the order listed. Before any of them, the query
// parameters the authentication methods read credentials from leave the
// URL (see querycred), so that a request refused before authentication,
// or decided by another method, neither logs nor proxies them. Unknown
// names are skipped (Validate reports them). The result is built once per
// route and generation.
func (s *Set) Chain(names []string, terminal http.Handler) http.Handler {
	var steps []*built
	var auths []*built
	var query []string
	anon := ""
	seen := map[string]bool{}
	for _, n := range names {
		b := s.byName[n]
		if b == nil || seen[n] {
			continue
		}
		seen[n] = true
		switch {
		case b.auth != nil:
			auths = append(auths, b)
		case b.kind == "anonymous":
			anon = b.anon
		default:
			steps = append(steps, b)
		}
	}
	if len(auths) > 0 {
		a := &authStep{anonymous: anon, metrics: s.metrics}
		for _, b := range auths {
			a.methods = append(a.methods, method{name: b.name, kind: b.kind, auth: b.auth})
			if f, ok := b.auth.(forwarder); ok {
				for _, h := range f.ForwardedHeaders() {
					a.owned = append(a.owned, http.CanonicalHeaderKey(h))
				}
			}
			if q, ok := b.auth.(queryReader); ok {
				for _, p := range q.QueryParams() {
					if !slices.Contains(query, p) {
						query = append(query, p)
					}
				}
			}
		}
		steps = append(steps, &built{name: "authentication", kind: "authentication", phase: PhaseAuthn, wrap: a.wrap})
	}
	slices.SortStableFunc(steps, func(a, b *built) int { return cmp.Compare(a.phase, b.phase) })
	h := terminal
	for i := len(steps) - 1; i >= 0; i-- {
		h = steps[i].wrap(h)
	}
	if len(query) > 0 {
		h = stripQuery(query, h)
	}
	return h
}

// queryReader is an Authenticator that reads credentials from query
// parameters.
type queryReader interface{ QueryParams() []string }

// stripQuery takes the query parameters names out of every request before
// next sees it, keeping their values for the authentication methods.
func stripQuery(names []string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, querycred.Strip(r, names))
	})
}

// Names returns the kinds of the policies that apply, in the order they
// run, for `bouncer routes`.
func (s *Set) Names(names []string) []string {
	var bs []*built
	for _, n := range names {
		if b := s.byName[n]; b != nil && !slices.Contains(bs, b) {
			bs = append(bs, b)
		}
	}
	slices.SortStableFunc(bs, func(a, b *built) int { return cmp.Compare(phaseOf(a), phaseOf(b)) })
	out := make([]string, len(bs))
	for i, b := range bs {
		out[i] = b.name + " (" + b.kind + ")"
	}
	return out
}

func phaseOf(b *built) Phase {
	if b.auth != nil || b.kind == "anonymous" {
		return PhaseAuthn
	}
	return b.phase
}

// Caches returns the cache policies by name, for the admin API's purges.
func (s *Set) Caches() map[string]*cache.Cache {
	out := map[string]*cache.Cache{}
	for n, b := range s.byName {
		if b.cache != nil {
			out[n] = b.cache
		}
	}
	return out
}
