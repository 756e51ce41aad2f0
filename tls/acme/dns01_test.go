package acme

import (
	"context"
	"errors"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/bouncer-proxy/bouncer/internal/testsvc"
	"github.com/libdns/libdns"
	"github.com/miekg/dns"
)

// TestDNS01Wildcard obtains a wildcard certificate through DNS-01: the
// test's libdns provider sets the TXT record in challtestsrv, certmagic
// finds the zone and checks propagation through soaFront (challtestsrv
// 2.4 answers SOA queries with NOTIMP), and Pebble validates against
// challtestsrv. certmagic polls propagation every 2 s, so this test takes
// at least that long.
func TestDNS01Wildcard(t *testing.T) {
	t.Parallel()
	e, o := newEnv(t, testsvc.PebbleOptions{})
	o.Names = []string{"*.wild.test"}
	o.DNSProvider = challDNS{p: e.pebble}
	o.Resolvers = []string{startSOAFront(t, "wild.test.", e.pebble.DNSAddr)}
	m := e.start(o)
	if !m.Covers("a.wild.test") || m.Covers("a.b.wild.test") || m.Covers("wild.test") {
		t.Fatal("Covers does not follow the wildcard")
	}
	leaf := e.waitCert("a.wild.test", 30*time.Second)
	if !slices.Equal(leaf.DNSNames, []string{"*.wild.test"}) {
		t.Fatalf("leaf names %v, want [*.wild.test]", leaf.DNSNames)
	}
	if _, err := e.handshake("b.wild.test"); err != nil {
		t.Fatalf("another name under the wildcard: %v", err)
	}
	if e.httpHit.Load() != 0 || e.alpnHit.Load() != 0 {
		t.Fatal("HTTP-01 or TLS-ALPN-01 used although DNS-01 is configured")
	}
	waitFor(t, 5*time.Second, "expiry gauge", func() bool { return e.expiry("*.wild.test") == float64(leaf.NotAfter.Unix()) })
}

// challDNS is a libdns provider over pebble-challtestsrv's management
// API: the test stand-in for a real DNS host's provider module.
type challDNS struct{ p *testsvc.Pebble }

func (d challDNS) AppendRecords(_ context.Context, zone string, recs []libdns.Record) ([]libdns.Record, error) {
	for _, r := range recs {
		rr := r.RR()
		if rr.Type != "TXT" {
			return nil, errors.New("challDNS: only TXT records, got " + rr.Type)
		}
		if err := d.p.SetTXT(libdns.AbsoluteName(rr.Name, zone), rr.Data); err != nil {
			return nil, err
		}
	}
	return recs, nil
}

func (d challDNS) DeleteRecords(_ context.Context, zone string, recs []libdns.Record) ([]libdns.Record, error) {
	for _, r := range recs {
		if err := d.p.ClearTXT(libdns.AbsoluteName(r.RR().Name, zone)); err != nil {
			return nil, err
		}
	}
	return recs, nil
}

// startSOAFront serves DNS on a loopback UDP port: SOA queries for zone
// are answered as its authority would, everything else is forwarded to
// upstream. It returns the address.
func startSOAFront(t *testing.T, zone, upstream string) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		_ = w.WriteMsg(soaOrForward(q, zone, upstream))
	})}
	started := make(chan struct{})
	srv.NotifyStartedFunc = func() { close(started) }
	go func() { _ = srv.ActivateAndServe() }()
	<-started
	t.Cleanup(func() { _ = srv.Shutdown() })
	return pc.LocalAddr().String()
}

func soaOrForward(q *dns.Msg, zone, upstream string) *dns.Msg {
	if len(q.Question) == 1 && q.Question[0].Qtype == dns.TypeSOA {
		r := new(dns.Msg)
		r.SetReply(q)
		name := dns.CanonicalName(q.Question[0].Name)
		switch {
		case name == zone:
			r.Answer = []dns.RR{&dns.SOA{
				Hdr: dns.RR_Header{Name: zone, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: 60},
				Ns:  "ns." + zone, Mbox: "hostmaster." + zone, Serial: 1, Refresh: 60, Retry: 60, Expire: 600, Minttl: 60,
			}}
		case !dns.IsSubDomain(zone, name):
			r.Rcode = dns.RcodeNameError
		}
		return r // a name inside the zone: no data, ask the parent
	}
	r, _, err := new(dns.Client).Exchange(q, upstream)
	if err != nil {
		r = new(dns.Msg)
		r.SetRcode(q, dns.RcodeServerFailure)
	}
	return r
}
