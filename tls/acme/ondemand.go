package acme

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"time"
)

// OnDemand issues certificates during the first TLS handshake for a name
// nobody listed in advance. Because any client can send any SNI, every
// name must pass the gates below before an ACME order is placed.
type OnDemand struct {
	// Allow lists exact names and "*.example.com" patterns (one label,
	// as in certificates). When set, a name must match it.
	Allow []string
	// Ask is a URL asked GET ?domain=<name> for each new name; 200 means
	// yes, anything else (or no answer within AskTimeout) means no.
	// When both Allow and Ask are set a name must pass both.
	Ask        string
	AskTimeout time.Duration // default 5 s
	// NegativeTTL is how long an explicit "no" from Ask is remembered,
	// so a client retrying a refused name costs no further requests
	// (default 5 min). Failures to reach Ask are not remembered. A name
	// whose order failed is not ordered again for as long, so that one
	// name the CA keeps refusing cannot use up RateLimit.
	NegativeTTL time.Duration
	// RateLimit is the number of new certificates issued on demand per
	// RateWindow across all names (0: no limit; window default 1 min).
	// Renewals and Names do not count.
	RateLimit  int
	RateWindow time.Duration
}

// Errors a refused on-demand name reports (wrapped by certmagic into
// the handshake error).
var (
	ErrNotAllowed  = errors.New("acme: name not allowed for on-demand certificates")
	ErrRateLimited = errors.New("acme: on-demand issuance rate limit reached")
)

const maxNegative = 10000 // bound on remembered refusals

// maxAsks bounds the calls to the ask endpoint in flight: handshakes with
// ever new names would otherwise make as many outgoing requests as there
// are connections. A name that finds them all busy is refused, and not
// remembered, so its next handshake asks again.
const maxAsks = 16

// gate decides on-demand names. It is built per generation and safe for
// concurrent use from handshakes.
type gate struct {
	o      OnDemand
	allow  nameSet
	client *http.Client
	asking chan struct{} // a token per ask call in flight (maxAsks)

	mu      sync.Mutex
	denied  map[string]time.Time // name -> refusal expiry
	failed  map[string]time.Time // name -> end of its back-off after a failed order
	issued  []time.Time          // issuance times within the window
	nowFunc func() time.Time
}

func newGate(o OnDemand) (*gate, error) {
	if len(o.Allow) == 0 && o.Ask == "" {
		return nil, errors.New("acme: on_demand needs allow or ask, or any client could make us request certificates for any name")
	}
	if o.Ask != "" {
		u, err := url.Parse(o.Ask)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("acme: on_demand ask %q is not an http(s) URL", o.Ask)
		}
	}
	if o.RateLimit < 0 {
		return nil, fmt.Errorf("acme: on_demand rate limit %d is negative", o.RateLimit)
	}
	if o.AskTimeout <= 0 {
		o.AskTimeout = 5 * time.Second
	}
	if o.NegativeTTL <= 0 {
		o.NegativeTTL = 5 * time.Minute
	}
	if o.RateWindow <= 0 {
		o.RateWindow = time.Minute
	}
	allow, err := newNameSet(o.Allow)
	if err != nil {
		return nil, fmt.Errorf("acme: on_demand allow: %w", err)
	}
	return &gate{
		o: o, allow: allow, client: &http.Client{Timeout: o.AskTimeout}, asking: make(chan struct{}, maxAsks),
		denied: map[string]time.Time{}, failed: map[string]time.Time{}, nowFunc: time.Now,
	}, nil
}

// covers reports whether name could be issued on demand: it matches
// Allow, or no Allow is set and Ask will decide.
func (g *gate) covers(name string) bool {
	if len(g.o.Allow) > 0 {
		return g.allow.match(name)
	}
	return g.o.Ask != ""
}

// decide is certmagic's DecisionFunc: nil lets name be loaded or issued.
func (g *gate) decide(ctx context.Context, name string) error {
	if err := checkHostname(normalize(name)); err != nil {
		return fmt.Errorf("%w: %w", ErrNotAllowed, err)
	}
	if len(g.o.Allow) > 0 && !g.allow.match(name) {
		return fmt.Errorf("%w: %s is not in the allow list", ErrNotAllowed, name)
	}
	if g.o.Ask == "" {
		return nil
	}
	if g.recentlyDenied(name) {
		return fmt.Errorf("%w: %s was refused by the ask endpoint recently", ErrNotAllowed, name)
	}
	select {
	case g.asking <- struct{}{}:
		defer func() { <-g.asking }()
	default:
		return fmt.Errorf("%w: %d ask calls are in flight already", ErrNotAllowed, maxAsks)
	}
	status, err := g.ask(ctx, name)
	if err != nil {
		return fmt.Errorf("%w: asking about %s: %w", ErrNotAllowed, name, err)
	}
	if status != http.StatusOK {
		g.deny(name)
		return fmt.Errorf("%w: ask endpoint answered %d for %s", ErrNotAllowed, status, name)
	}
	return nil
}

// ask calls the Ask URL for name and returns the status code.
func (g *gate) ask(ctx context.Context, name string) (int, error) {
	u, err := url.Parse(g.o.Ask)
	if err != nil {
		return 0, err
	}
	q := u.Query()
	q.Set("domain", name)
	u.RawQuery = q.Encode()
	ctx, cancel := context.WithTimeout(ctx, g.o.AskTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return 0, err
	}
	resp, err := g.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, nil
}

func (g *gate) recentlyDenied(name string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.active(g.denied, name)
}

func (g *gate) deny(name string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.remember(g.denied, name)
}

// orderFailed starts name's back-off after a failed order.
func (g *gate) orderFailed(name string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.remember(g.failed, name)
}

// active reports whether name's entry in m has not expired, dropping an
// expired one. Called with g.mu held.
func (g *gate) active(m map[string]time.Time, name string) bool {
	until, ok := m[name]
	if ok && g.nowFunc().After(until) {
		delete(m, name)
		return false
	}
	return ok
}

// remember puts name in m for NegativeTTL, keeping m within maxNegative
// entries. Called with g.mu held.
func (g *gate) remember(m map[string]time.Time, name string) {
	now := g.nowFunc()
	if len(m) >= maxNegative {
		for n, until := range m {
			if now.After(until) {
				delete(m, n)
			}
		}
		if len(m) >= maxNegative {
			clear(m) // a flood of names: forget rather than grow
		}
	}
	m[name] = now.Add(g.o.NegativeTTL)
}

// take counts one new issuance for name, or refuses it if name's last
// order failed within NegativeTTL or the window is full.
func (g *gate) take(name string) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.active(g.failed, name) {
		return fmt.Errorf("%w: the last order for %s failed less than %v ago", ErrRateLimited, name, g.o.NegativeTTL)
	}
	if g.o.RateLimit == 0 {
		return nil
	}
	now := g.nowFunc()
	cut := 0
	for cut < len(g.issued) && now.Sub(g.issued[cut]) >= g.o.RateWindow {
		cut++
	}
	g.issued = g.issued[cut:]
	if len(g.issued) >= g.o.RateLimit {
		return fmt.Errorf("%w: %d per %v", ErrRateLimited, g.o.RateLimit, g.o.RateWindow)
	}
	g.issued = append(g.issued, now)
	return nil
}

// nameSet matches exact names and one-label "*.suffix" patterns.
type nameSet struct {
	exact     map[string]struct{}
	wildcards map[string]struct{} // suffix after "*."
}

func newNameSet(names []string) (nameSet, error) {
	s := nameSet{exact: map[string]struct{}{}, wildcards: map[string]struct{}{}}
	for _, n := range names {
		n = normalize(n)
		switch {
		case n == "" || strings.Contains(n[1:], "*") || (n[0] == '*' && !strings.HasPrefix(n, "*.")):
			return s, fmt.Errorf("bad name %q: want a DNS name or *.name", n)
		case strings.HasPrefix(n, "*."):
			s.wildcards[n[2:]] = struct{}{}
		default:
			s.exact[n] = struct{}{}
		}
	}
	return s, nil
}

// match reports whether name is listed, or is one label under a listed
// wildcard. Wildcard patterns also match themselves (a wildcard SNI).
func (s nameSet) match(name string) bool {
	name = normalize(name)
	if _, ok := s.exact[name]; ok {
		return true
	}
	_, rest, ok := strings.Cut(name, ".")
	if !ok {
		return false
	}
	_, ok = s.wildcards[rest]
	return ok
}

// maxName and maxLabel bound a DNS name in its text form (RFC 1035,
// section 2.3.4).
const (
	maxName  = 253
	maxLabel = 63
)

// checkHostname accepts only what an ACME CA could issue for from a
// client's SNI: a DNS host name of letters, digits and hyphens. IP
// literals (which SNI may not carry, RFC 6066 section 3, and which
// certmagic substitutes, the listener's own address, when a client sends
// no SNI), wildcards and malformed names are refused before the ask
// endpoint or the CA hear of them.
func checkHostname(name string) error {
	if name == "" || len(name) > maxName {
		return fmt.Errorf("%q is not a DNS host name", name)
	}
	if _, err := netip.ParseAddr(name); err == nil {
		return fmt.Errorf("%s is an IP address, not a DNS host name", name)
	}
	for label := range strings.SplitSeq(name, ".") {
		if label == "" || len(label) > maxLabel || label[0] == '-' || label[len(label)-1] == '-' {
			return fmt.Errorf("%q is not a DNS host name", name)
		}
		for i := 0; i < len(label); i++ {
			if c := label[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c >= 'A' && c <= 'Z') {
				return fmt.Errorf("%q is not a DNS host name", name)
			}
		}
	}
	return nil
}

// normalize lowercases a name and drops a final dot, as certmagic does.
func normalize(name string) string {
	return strings.TrimSuffix(strings.ToLower(strings.TrimSpace(name)), ".")
}
