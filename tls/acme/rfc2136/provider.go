// Package rfc2136 is a libdns provider that changes DNS records through
// RFC 2136 dynamic updates signed with a TSIG key (RFC 8945): the
// provider-neutral way to edit a zone on BIND, Knot, PowerDNS or Windows
// DNS. Bouncer's ACME manager uses it for DNS-01 challenges (pass a
// Provider as acme.Options.DNSProvider).
//
// Updates go over TCP to one server, normally the zone's primary:
// a lost UDP reply would leave the caller unsure whether a
// non-idempotent change was applied, and TCP has no size limit.
package rfc2136

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/libdns/libdns"
	"github.com/miekg/dns"
)

// Options configure a Provider.
type Options struct {
	// Server is host:port of the server that accepts updates for the zone.
	Server string
	// Zone is the zone named in every update. Empty: the zone of each
	// record is asked of Server with an SOA query, which suits the
	// usual case of a server that is authoritative for the zone itself.
	Zone string
	// KeyName, KeyAlgorithm and KeySecret are the TSIG key the server
	// accepts updates from. KeyAlgorithm is "hmac-sha256" (the default
	// when empty) or "hmac-sha512"; KeySecret is standard base64, as in
	// BIND's key statement.
	KeyName, KeyAlgorithm, KeySecret string
	// Timeout bounds each exchange with the server (0: 10 s).
	Timeout time.Duration
}

// Provider adds and removes records with dynamic updates. It is
// immutable and safe for concurrent use; each call blocks until the
// server has answered (atomically, per RFC 2136 section 3.4) or the
// context or Timeout ends.
type Provider struct {
	server, zone string
	keyName, alg string
	secret       string
	timeout      time.Duration
}

// UpdateError is the server's refusal of an update or query: its rcode,
// and for a TSIG failure (NOTAUTH) the TSIG error (BADSIG, BADKEY,
// BADTIME), 0 otherwise.
type UpdateError struct {
	Server  string
	Op      string // "update" or "query"
	Subject string // the zone updated or the name queried
	Rcode   int
	TSIG    uint16
}

func (e *UpdateError) Error() string {
	what := "update of zone " + e.Subject
	if e.Op != "update" {
		what = e.Op + " for " + e.Subject
	}
	msg := fmt.Sprintf("rfc2136: %s at %s: %s", what, e.Server, rcodeName(e.Rcode))
	if e.TSIG != 0 {
		msg += " (TSIG " + rcodeName(int(e.TSIG)) + ")"
	}
	return msg
}

// ErrNoZone is returned when Server is not authoritative for a record's
// name and Options.Zone is empty.
var ErrNoZone = errors.New("rfc2136: no zone found for name")

var algorithms = map[string]string{"hmac-sha256": dns.HmacSHA256, "hmac-sha512": dns.HmacSHA512}

// New checks o and returns a Provider. It does not contact the server.
func New(o Options) (*Provider, error) {
	if _, _, err := net.SplitHostPort(o.Server); err != nil {
		return nil, fmt.Errorf("rfc2136: server %q is not host:port: %w", o.Server, err)
	}
	if o.KeyAlgorithm == "" {
		o.KeyAlgorithm = "hmac-sha256"
	}
	alg, ok := algorithms[strings.ToLower(o.KeyAlgorithm)]
	if !ok {
		return nil, fmt.Errorf("rfc2136: TSIG algorithm %q is not hmac-sha256 or hmac-sha512", o.KeyAlgorithm)
	}
	if o.KeyName == "" {
		return nil, errors.New("rfc2136: no TSIG key name")
	}
	if b, err := base64.StdEncoding.DecodeString(o.KeySecret); err != nil || len(b) == 0 {
		return nil, fmt.Errorf("rfc2136: TSIG secret of key %s is not base64", o.KeyName)
	}
	if o.Zone != "" {
		if _, ok := dns.IsDomainName(o.Zone); !ok {
			return nil, fmt.Errorf("rfc2136: zone %q is not a domain name", o.Zone)
		}
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	return &Provider{
		server: o.Server, zone: canonical(o.Zone), keyName: canonical(o.KeyName), alg: alg,
		secret: o.KeySecret, timeout: o.Timeout,
	}, nil
}

// AppendRecords adds recs (names relative to zone) in one update per
// zone and returns them as the typed libdns records that were added.
// Records already present are left as they are (RFC 2136 section
// 3.4.2.2); a TXT record's TTL applies to its whole RRset.
func (p *Provider) AppendRecords(ctx context.Context, zone string, recs []libdns.Record) ([]libdns.Record, error) {
	rrs := make([]dns.RR, 0, len(recs))
	for _, r := range recs {
		rr, err := toRR(r.RR(), zone)
		if err != nil {
			return nil, err
		}
		rrs = append(rrs, rr)
	}
	groups, err := p.byZone(ctx, rrs)
	if err != nil {
		return nil, err
	}
	for _, g := range groups {
		m := new(dns.Msg)
		m.SetUpdate(g.zone)
		m.Insert(g.rrs)
		if err := p.update(ctx, g.zone, m); err != nil {
			return nil, err
		}
	}
	out := make([]libdns.Record, len(rrs))
	for i, rr := range rrs {
		out[i] = fromRR(rr, zone)
	}
	return out, nil
}

// DeleteRecords removes the records of the zone that match recs (names
// relative to zone; an empty Type, zero TTL or empty Data matches any)
// and returns those it removed. It first reads the names from Server,
// then removes exactly the matching RRs in one update per zone; RRs
// that another client removes in between are still reported. A record
// the server synthesises from a wildcard matches too, though removing
// it leaves the wildcard in place.
func (p *Provider) DeleteRecords(ctx context.Context, zone string, recs []libdns.Record) ([]libdns.Record, error) {
	var found []dns.RR
	for _, r := range recs {
		want := r.RR()
		have, err := p.lookup(ctx, dns.Fqdn(libdns.AbsoluteName(want.Name, zone)), want.Type)
		if err != nil {
			return nil, err
		}
		for _, rr := range have {
			if matches(want, rr, zone) && !containsRR(found, rr) {
				found = append(found, rr)
			}
		}
	}
	out := make([]libdns.Record, len(found)) // before Remove zeroes the TTLs
	for i, rr := range found {
		out[i] = fromRR(rr, zone)
	}
	groups, err := p.byZone(ctx, found)
	if err != nil {
		return nil, err
	}
	for _, g := range groups {
		m := new(dns.Msg)
		m.SetUpdate(g.zone)
		m.Remove(g.rrs) // class NONE, TTL 0: this RR only (RFC 2136 section 2.5.4)
		if err := p.update(ctx, g.zone, m); err != nil {
			return nil, err
		}
	}
	return out, nil
}

type zoneRRs struct {
	zone string
	rrs  []dns.RR
}

// byZone groups rrs by the zone their update names, keeping their order.
func (p *Provider) byZone(ctx context.Context, rrs []dns.RR) ([]zoneRRs, error) {
	var groups []zoneRRs
	for _, rr := range rrs {
		z := p.zone
		if z == "" {
			var err error
			if z, err = p.findZone(ctx, rr.Header().Name); err != nil {
				return nil, err
			}
		}
		i := 0
		for i < len(groups) && groups[i].zone != z {
			i++
		}
		if i == len(groups) {
			groups = append(groups, zoneRRs{zone: z})
		}
		groups[i].rrs = append(groups[i].rrs, rr)
	}
	return groups, nil
}

func canonical(name string) string {
	if name == "" {
		return ""
	}
	return dns.CanonicalName(name)
}

func rcodeName(code int) string {
	if s, ok := dns.RcodeToString[code]; ok {
		return s
	}
	return fmt.Sprintf("rcode %d", code)
}

var (
	_ libdns.RecordAppender = (*Provider)(nil)
	_ libdns.RecordDeleter  = (*Provider)(nil)
)
