package rfc2136

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/miekg/dns"
)

// update sends the signed update m for zone and checks the reply.
func (p *Provider) update(ctx context.Context, zone string, m *dns.Msg) error {
	_, err := p.exchange(ctx, "update", zone, m, true)
	return err
}

// lookup reads the RRs owned by name from Server (of type typ, or every
// type when typ is empty), signed so that a server allowing queries or
// updates by key alone answers too.
func (p *Provider) lookup(ctx context.Context, name, typ string) ([]dns.RR, error) {
	qtype := dns.TypeANY
	if typ != "" {
		t, ok := dns.StringToType[typ]
		if !ok {
			return nil, fmt.Errorf("rfc2136: unknown record type %q", typ)
		}
		qtype = t
	}
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	m.RecursionDesired = false
	r, err := p.exchange(ctx, "query", name, m, true)
	if err != nil {
		return nil, err
	}
	var out []dns.RR
	for _, rr := range r.Answer {
		// an alias's target is not owned by name
		if dns.CanonicalName(rr.Header().Name) == dns.CanonicalName(name) && rr.Header().Rrtype != dns.TypeRRSIG {
			out = append(out, rr)
		}
	}
	return out, nil
}

// findZone asks Server which of its zones holds name: the owner of the
// SOA record in the answer (name is the apex) or in the authority
// section (any other name, existing or not; RFC 2308 section 3).
func (p *Provider) findZone(ctx context.Context, name string) (string, error) {
	m := new(dns.Msg)
	m.SetQuestion(name, dns.TypeSOA)
	m.RecursionDesired = false
	r, err := p.exchange(ctx, "query", name, m, false)
	var refused *UpdateError
	if errors.As(err, &refused) {
		return "", fmt.Errorf("%w %s: %w", ErrNoZone, name, err)
	}
	if err != nil {
		return "", err
	}
	for _, rr := range append(r.Answer, r.Ns...) {
		if soa, ok := rr.(*dns.SOA); ok && r.Authoritative && dns.IsSubDomain(soa.Hdr.Name, name) {
			return dns.CanonicalName(soa.Hdr.Name), nil
		}
	}
	return "", fmt.Errorf("%w %s: %s does not serve it", ErrNoZone, name, p.server)
}

// exchange sends m over TCP, signed with the key when sign is set, and
// returns a reply whose rcode is NOERROR (or NXDOMAIN for a query). Any
// other rcode becomes an *UpdateError naming the server, what the
// message was about and the TSIG error, if any.
func (p *Provider) exchange(ctx context.Context, op, about string, m *dns.Msg, sign bool) (*dns.Msg, error) {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	c := &dns.Client{Net: "tcp", Timeout: p.timeout}
	if sign {
		c.TsigSecret = map[string]string{p.keyName: p.secret}
		m.SetTsig(p.keyName, p.alg, 300, time.Now().Unix())
	}
	r, _, err := c.ExchangeContext(ctx, m, p.server)
	if r != nil && r.Rcode != dns.RcodeSuccess && (op != "query" || r.Rcode != dns.RcodeNameError) {
		e := &UpdateError{Server: p.server, Op: op, Subject: about, Rcode: r.Rcode}
		if t := r.IsTsig(); t != nil {
			e.TSIG = t.Error
		}
		return nil, e
	}
	if err != nil {
		// a reply that fails TSIG verification lands here too
		return nil, fmt.Errorf("rfc2136: %s %s at %s: %w", op, about, p.server, err)
	}
	return r, nil
}
