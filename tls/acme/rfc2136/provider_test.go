package rfc2136

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bouncer-proxy/bouncer/internal/testsvc"
	"github.com/libdns/libdns"
	"github.com/miekg/dns"
)

func newProvider(t *testing.T, n *testsvc.Named, edit func(*Options)) *Provider {
	t.Helper()
	o := Options{Server: n.Addr, KeyName: n.KeyName, KeySecret: n.KeySecret, Timeout: 5 * time.Second}
	if edit != nil {
		edit(&o)
	}
	p, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// txtAt reads the TXT strings at name straight from named, each
// record's strings joined and unescaped.
func txtAt(t *testing.T, n *testsvc.Named, name string) []string {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), dns.TypeTXT)
	r, _, err := (&dns.Client{Net: "tcp", Timeout: 5 * time.Second}).Exchange(m, n.Addr)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, rr := range r.Answer {
		if txt, ok := rr.(*dns.TXT); ok {
			out = append(out, rdata(txt))
		}
	}
	slices.Sort(out)
	return out
}

// TestAppendDelete adds TXT records through named, reads them back, and
// removes exactly them, with the zone given or found by SOA lookup.
func TestAppendDelete(t *testing.T) {
	n := testsvc.StartNamed(t, "rfc2136.test")
	ctx := context.Background()
	long := strings.Repeat("0123456789", 30) // 300 bytes: two character-strings
	for _, tc := range []struct {
		name, zoneOpt, rel, data string
	}{
		{name: "discovered zone", rel: "_acme-challenge", data: "token-1"},
		{name: "given zone", zoneOpt: "rfc2136.test", rel: "_acme-challenge.www", data: "token-2"},
		{name: "escapes", rel: "esc", data: `quote " backslash \ del ` + "\x7f"},
		{name: "longer than 255", rel: "long.deep", data: long},
		{name: "apex", rel: "@", data: "apex-token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newProvider(t, n, func(o *Options) { o.Zone = tc.zoneOpt })
			fqdn := libdns.AbsoluteName(tc.rel, n.Zone)
			rec := libdns.TXT{Name: tc.rel, TTL: 30 * time.Second, Text: tc.data}
			got, err := p.AppendRecords(ctx, n.Zone, []libdns.Record{rec})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 || got[0].RR() != rec.RR() {
				t.Fatalf("AppendRecords returned %+v, want %+v", got, rec)
			}
			if txt := txtAt(t, n, fqdn); !slices.Equal(txt, []string{tc.data}) {
				t.Fatalf("TXT at %s = %q, want %q", fqdn, txt, tc.data)
			}
			del, err := p.DeleteRecords(ctx, n.Zone, []libdns.Record{rec})
			if err != nil {
				t.Fatal(err)
			}
			if len(del) != 1 || del[0].RR() != rec.RR() {
				t.Fatalf("DeleteRecords returned %+v, want %+v", del, rec)
			}
			if txt := txtAt(t, n, fqdn); len(txt) != 0 {
				t.Fatalf("TXT at %s after delete = %q", fqdn, txt)
			}
			if again, err := p.DeleteRecords(ctx, n.Zone, []libdns.Record{rec}); err != nil || len(again) != 0 {
				t.Fatalf("second delete = %v, %v; want nothing deleted", again, err)
			}
		})
	}
}

// TestDeleteMatching removes one of two TXT records by value, then the
// rest by name and type alone; the zone's A records stay.
func TestDeleteMatching(t *testing.T) {
	n := testsvc.StartNamed(t, "match.test")
	p := newProvider(t, n, nil)
	ctx := context.Background()
	a := libdns.TXT{Name: "two", TTL: time.Minute, Text: "a"}
	b := libdns.TXT{Name: "two", TTL: time.Minute, Text: "b"}
	if _, err := p.AppendRecords(ctx, n.Zone, []libdns.Record{a, b}); err != nil {
		t.Fatal(err)
	}
	if txt := txtAt(t, n, "two."+n.Zone); !slices.Equal(txt, []string{"a", "b"}) {
		t.Fatalf("TXT = %q, want [a b]", txt)
	}
	wrongTTL := libdns.TXT{Name: "two", TTL: time.Hour, Text: "a"}
	if del, err := p.DeleteRecords(ctx, n.Zone, []libdns.Record{wrongTTL}); err != nil || len(del) != 0 {
		t.Fatalf("delete with another TTL = %v, %v; want nothing", del, err)
	}
	if del, err := p.DeleteRecords(ctx, n.Zone, []libdns.Record{a}); err != nil || len(del) != 1 {
		t.Fatalf("delete a = %v, %v", del, err)
	}
	if txt := txtAt(t, n, "two."+n.Zone); !slices.Equal(txt, []string{"b"}) {
		t.Fatalf("TXT after deleting a = %q, want [b]", txt)
	}
	del, err := p.DeleteRecords(ctx, n.Zone, []libdns.Record{libdns.RR{Name: "two", Type: "TXT"}})
	if err != nil || len(del) != 1 || del[0].RR() != b.RR() {
		t.Fatalf("delete by name and type = %v, %v; want [b]", del, err)
	}
	if _, err := p.AppendRecords(ctx, n.Zone, []libdns.Record{libdns.RR{Name: "host", Type: "A", Data: "192.0.2.7"}}); err != nil {
		t.Fatal(err)
	}
	del, err = p.DeleteRecords(ctx, n.Zone, []libdns.Record{libdns.RR{Name: "host", Type: "A", Data: "192.0.2.7"}})
	if err != nil || len(del) != 1 || del[0].RR().Data != "192.0.2.7" {
		t.Fatalf("delete A = %v, %v", del, err)
	}
	if txt := txtAt(t, n, "_acme-challenge."+n.Zone); len(txt) != 0 {
		t.Fatalf("unexpected TXT %q", txt)
	}
}

// TestRefusals checks that the server's refusals come back as
// *UpdateError naming the server, the rcode and the TSIG error.
func TestRefusals(t *testing.T) {
	n := testsvc.StartNamed(t, "refuse.test")
	rec := []libdns.Record{libdns.TXT{Name: "_acme-challenge", TTL: time.Minute, Text: "x"}}
	for _, tc := range []struct {
		name     string
		edit     func(*Options)
		zone     string // the caller's zone; empty: named's
		rcode    int
		tsig     uint16
		noZone   bool
		wantText string
	}{
		{name: "wrong secret", edit: func(o *Options) { o.KeySecret = "d3Jvbmctc2VjcmV0LXdyb25nLXNlY3JldC0xMjM0NTY=" },
			rcode: dns.RcodeNotAuth, tsig: dns.RcodeBadSig, wantText: "NOTAUTH (TSIG BADSIG)"},
		{name: "unknown key", edit: func(o *Options) { o.KeyName = "nobody" },
			rcode: dns.RcodeNotAuth, tsig: dns.RcodeBadKey, wantText: "NOTAUTH (TSIG BADKEY)"},
		{name: "other algorithm", edit: func(o *Options) { o.KeyAlgorithm = "hmac-sha512" },
			rcode: dns.RcodeNotAuth, tsig: dns.RcodeBadKey, wantText: "BADKEY"},
		{name: "zone not served", edit: func(o *Options) { o.Zone = "elsewhere.test" }, zone: "elsewhere.test.",
			rcode: dns.RcodeNotAuth, wantText: "NOTAUTH"},
		{name: "name outside zone", edit: func(o *Options) { o.Zone = "refuse.test" }, zone: "elsewhere.test.",
			rcode: dns.RcodeNotZone, wantText: "NOTZONE"},
		{name: "no zone to discover", zone: "elsewhere.test.", noZone: true, wantText: "REFUSED"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newProvider(t, n, tc.edit)
			zone := tc.zone
			if zone == "" {
				zone = n.Zone
			}
			_, err := p.AppendRecords(context.Background(), zone, rec)
			if err == nil {
				t.Fatal("update accepted")
			}
			if !strings.Contains(err.Error(), n.Addr) || !strings.Contains(err.Error(), tc.wantText) {
				t.Fatalf("error %q does not name %s and %s", err, n.Addr, tc.wantText)
			}
			if tc.noZone {
				if !errors.Is(err, ErrNoZone) {
					t.Fatalf("error %v is not ErrNoZone", err)
				}
				return
			}
			var ue *UpdateError
			if !errors.As(err, &ue) || ue.Rcode != tc.rcode || ue.TSIG != tc.tsig {
				t.Fatalf("error %#v, want rcode %s TSIG %d", err, dns.RcodeToString[tc.rcode], tc.tsig)
			}
		})
	}
}

// TestNew rejects options that could never work, before any exchange.
func TestNew(t *testing.T) {
	good := Options{Server: "127.0.0.1:53", KeyName: "k", KeySecret: "c2VjcmV0"}
	for _, tc := range []struct {
		name, want string
		edit       func(*Options)
	}{
		{name: "valid", edit: func(*Options) {}},
		{name: "sha512", edit: func(o *Options) { o.KeyAlgorithm = "HMAC-SHA512" }},
		{name: "no port", edit: func(o *Options) { o.Server = "127.0.0.1" }, want: "not host:port"},
		{name: "algorithm", edit: func(o *Options) { o.KeyAlgorithm = "hmac-md5" }, want: "hmac-sha256 or hmac-sha512"},
		{name: "no key", edit: func(o *Options) { o.KeyName = "" }, want: "no TSIG key name"},
		{name: "secret", edit: func(o *Options) { o.KeySecret = "not base64!" }, want: "not base64"},
		{name: "zone", edit: func(o *Options) { o.Zone = "a..b" }, want: "not a domain name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := good
			tc.edit(&o)
			_, err := New(o)
			if (err == nil) != (tc.want == "") || err != nil && !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New = %v, want error containing %q", err, tc.want)
			}
		})
	}
}

// TestCanceled stops at a canceled context without changing the zone,
// and rejects records it cannot express before sending anything.
func TestCanceled(t *testing.T) {
	n := testsvc.StartNamed(t, "cancel.test")
	p := newProvider(t, n, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rec := libdns.TXT{Name: "_acme-challenge", TTL: time.Minute, Text: "x"}
	if _, err := p.AppendRecords(ctx, n.Zone, []libdns.Record{rec}); !errors.Is(err, context.Canceled) {
		t.Fatalf("AppendRecords with a canceled context = %v, want context.Canceled", err)
	}
	if txt := txtAt(t, n, "_acme-challenge."+n.Zone); len(txt) != 0 {
		t.Fatalf("TXT %q added under a canceled context", txt)
	}
	bad := libdns.RR{Name: "x", Type: "NOSUCHTYPE", Data: "1"}
	if _, err := p.AppendRecords(context.Background(), n.Zone, []libdns.Record{bad}); err == nil || !strings.Contains(err.Error(), "not supported") {
		t.Fatalf("AppendRecords with an unknown type = %v", err)
	}
}
