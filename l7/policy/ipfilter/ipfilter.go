// Package ipfilter allows or denies requests by client address. The
// address tested is l7.Info's Client, which the gateway has already derived
// from trusted proxies, so a client cannot choose it with a header.
package ipfilter

import (
	"errors"
	"net/http"
	"net/netip"

	"github.com/bouncer-proxy/bouncer/l7"
)

// Options lists the addresses a Filter lets through or refuses. Entries
// are CIDRs ("10.0.0.0/8", "2001:db8::/32") or single addresses
// ("192.0.2.7"); a CIDR with host bits set is an error.
type Options struct {
	// Allow, when not empty, is the only addresses let through.
	Allow []string
	// Deny addresses are refused, even when Allow also names them.
	Deny []string
}

// Filter is a built allow/deny list. It is immutable and safe for
// concurrent use.
type Filter struct {
	allow, deny set
}

// ErrEmpty is returned by New when Options names no address at all.
var ErrEmpty = errors.New("ipfilter: no allow or deny entries")

// New parses and merges the lists. Thousands of entries cost one binary
// search per request, not a scan.
func New(o Options) (*Filter, error) {
	allow, err := newSet("allow", o.Allow)
	if err != nil {
		return nil, err
	}
	deny, err := newSet("deny", o.Deny)
	if err != nil {
		return nil, err
	}
	if allow.empty() && deny.empty() {
		return nil, ErrEmpty
	}
	return &Filter{allow: allow, deny: deny}, nil
}

// Allowed reports whether a may pass: not denied, and allowed when an
// allow list exists. IPv4-mapped IPv6 addresses are tested as IPv4 and
// zones are ignored. An invalid address is refused.
func (f *Filter) Allowed(a netip.Addr) bool {
	if !a.IsValid() {
		return false
	}
	a = a.Unmap().WithZone("")
	if f.deny.contains(a) {
		return false
	}
	return f.allow.empty() || f.allow.contains(a)
}

// Wrap returns a handler that answers 403 "client address not allowed"
// (JSON, via l7.WriteError) to refused clients and calls next for the
// others. A request without l7.Info has no known client and is refused.
func (f *Filter) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var client netip.Addr
		if info := l7.InfoFrom(r.Context()); info != nil {
			client = info.Client
		}
		if !f.Allowed(client) {
			l7.WriteError(w, r, errNotAllowed)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// errNotAllowed is shared: WriteError only reads it.
var errNotAllowed = l7.Errorf(http.StatusForbidden, l7.CodeForbidden, "client address not allowed")
