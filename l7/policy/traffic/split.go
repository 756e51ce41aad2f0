// Package traffic holds the policies that decide where a request goes:
// weighted and rule-based splits with stickiness (Split), request mirroring
// to a shadow backend (Mirror) and API versions with deprecation headers
// (Versions). Each is compiled once from its options, is immutable after its
// constructor returns and is safe for concurrent use; the gateway puts them
// in front of terminal handlers (one http.Handler per backend).
package traffic

import (
	"math/rand/v2"
	"net/http"
	"time"
)

// Rule sends requests whose header or cookie matches to one backend. Rules
// are checked in order before any weight, and the first match wins (blue
// and green by header, beta users by cookie).
type Rule struct {
	// Header is the request header tested; exactly one of Header and
	// Cookie is set. Every value of a repeated header is tried.
	Header string
	// Cookie is the name of the request cookie tested.
	Cookie string
	// Value is what the header or cookie must equal, case-sensitively.
	Value string
	// Regex is an RE2 expression the whole value must match (it is
	// anchored at both ends). At most one of Value and Regex; with
	// neither, the rule matches when the header or cookie is present at
	// all, even empty.
	Regex string
	// Backend is the name of the backend chosen; a key of the backends map.
	Backend string
}

// Weighted gives a backend a share of the requests that no rule took.
type Weighted struct {
	// Backend is a key of the backends map, listed at most once.
	Backend string
	// Weight is 0 to 10000. A backend's share is its weight over the sum
	// of weights, which must be above 0. Weight 0 drains a backend: no
	// new user lands on it and its pin cookies are ignored.
	Weight int
}

// PinCookie remembers the backend chosen for a user who has no sticky key.
type PinCookie struct {
	// Name of the cookie; empty disables pinning.
	Name string
	// TTL is the cookie's Max-Age; 0 makes a session cookie. It is
	// rounded down to whole seconds.
	TTL time.Duration
	// Key signs the cookie (HMAC-SHA256), at least 16 bytes. The value is
	// an opaque token per backend, so a client cannot name another
	// backend; a cookie that does not verify is ignored. Changing the key
	// unpins everyone.
	Key []byte
	// Path of the cookie; default "/".
	Path string
	// Secure marks the cookie Secure (sent over HTTPS only).
	Secure bool
}

// SplitOptions configure a Split.
type SplitOptions struct {
	// Rules are checked in order; the first match decides.
	Rules []Rule
	// Weights share the remaining requests; required.
	Weights []Weighted
	// Sticky names the key that keeps a user on one backend: "" (none:
	// each request is drawn at random), "client_ip" (l7.Info's Client, or
	// the peer address without Info), "header:NAME", "cookie:NAME" or
	// "consumer" (l7.Info's Identity.Consumer). A request without the key
	// is pinned by SetCookie if set, or drawn at random.
	//
	// The key is hashed (FNV-1a 64 with Salt, no per-process seed) to a
	// point in [0, sum of weights) scaled to the sum, and the point picks a
	// backend by the cumulative weights in the order listed. The same key
	// therefore lands on the same backend in every process and after a
	// rebuild while the weights stay the same. Moving weight between two
	// neighbours in the list while keeping the sum (5/95 to 10/90) moves
	// only the users between the old and the new boundary, from the
	// backend that shrank to the one that grew; changing the sum or the
	// order rescales every range and moves more users.
	Sticky string
	// Salt is mixed into the sticky hash, so different splits place the
	// same user independently. Changing it reshuffles everyone.
	Salt string
	// SetCookie pins users who have no sticky key; optional.
	SetCookie PinCookie
	// OnChoice, if set, is called on the request's goroutine with the
	// backend chosen, before that backend serves (for the access log).
	OnChoice func(r *http.Request, backend string)
}

// Split sends each request to one backend: the first matching rule, else a
// valid pin cookie, else the sticky key's hash, else a random draw by
// weight. It is immutable and safe for concurrent use. Choosing does not
// allocate (rules with a regex aside); setting a new pin cookie does.
type Split struct {
	backends []backend
	rules    []rule
	points   []span // weighted backends in listed order, weight > 0
	total    uint64
	key      keySource
	seed     uint64 // FNV-1a state after the salt
	pin      *pinner
	onChoice func(*http.Request, string)
}

// backend is a named handler with what pinning needs of it.
type backend struct {
	name      string
	h         http.Handler
	weight    int
	token     string // pin cookie value
	setCookie string // pin Set-Cookie header value
}

// span is a backend's range of points: [previous end, end).
type span struct {
	end uint64
	idx int
}

var _ http.Handler = (*Split)(nil)

// NewSplit compiles opts over backends (name → handler). It reports the
// first invalid option; every backend named in opts must be in backends.
func NewSplit(opts SplitOptions, backends map[string]http.Handler) (*Split, error) {
	b := splitBuilder{byName: map[string]int{}, handlers: backends}
	return b.build(opts)
}

// ServeHTTP picks a backend, sets the pin cookie when a new user was just
// drawn, reports the choice to OnChoice and lets the backend serve.
func (s *Split) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	i, setPin := s.choose(r)
	b := &s.backends[i]
	if setPin {
		w.Header().Add("Set-Cookie", b.setCookie)
	}
	if s.onChoice != nil {
		s.onChoice(r, b.name)
	}
	b.h.ServeHTTP(w, r)
}

// Choose returns the name of the backend ServeHTTP would pick for r. For
// a request drawn at random, another call may answer differently.
func (s *Split) Choose(r *http.Request) string {
	i, _ := s.choose(r)
	return s.backends[i].name
}

// choose returns the backend index and whether a pin cookie should be set.
func (s *Split) choose(r *http.Request) (int, bool) {
	for k := range s.rules {
		if s.rules[k].match(r) {
			return s.rules[k].idx, false
		}
	}
	if s.pin != nil {
		if i, ok := s.pin.read(r, s.backends); ok && s.backends[i].weight > 0 {
			return i, false
		}
	}
	if h, ok := s.key.hash(r, s.seed); ok {
		return s.at(scale(h, s.total)), false
	}
	return s.at(rand.Uint64N(s.total)), s.pin != nil
}

// at returns the backend whose span holds point p < total.
func (s *Split) at(p uint64) int {
	for _, sp := range s.points {
		if p < sp.end {
			return sp.idx
		}
	}
	return s.points[len(s.points)-1].idx
}
