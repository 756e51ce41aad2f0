package testsvc

import (
	"context"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestNamed starts named and checks what tests rely on: the zone apex and
// any name under it resolve to loopback, updates signed with the key are
// applied, and unsigned ones are refused.
func TestNamed(t *testing.T) {
	n := StartNamed(t, "Named.Test")
	if n.Zone != "named.test." {
		t.Fatalf("Zone = %q, want named.test.", n.Zone)
	}
	r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, n.Addr)
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, host := range []string{"named.test", "x.named.test", "a.b.named.test"} {
		addrs, err := r.LookupHost(ctx, host)
		if err != nil || !slices.Equal(addrs, []string{"127.0.0.1"}) {
			t.Fatalf("LookupHost(%s) = %v, %v; want [127.0.0.1]", host, addrs, err)
		}
	}

	for _, tc := range []struct {
		name  string
		sign  bool
		rcode int
	}{
		{name: "signed", sign: true, rcode: dns.RcodeSuccess},
		{name: "unsigned", rcode: dns.RcodeRefused},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rr, err := dns.NewRR("_acme-challenge." + tc.name + ".named.test. 60 IN TXT \"token\"")
			if err != nil {
				t.Fatal(err)
			}
			m := new(dns.Msg)
			m.SetUpdate(n.Zone)
			m.Insert([]dns.RR{rr})
			c := &dns.Client{Net: "tcp", Timeout: 5 * time.Second}
			if tc.sign {
				c.TsigSecret = map[string]string{n.KeyName: n.KeySecret}
				m.SetTsig(n.KeyName, dns.HmacSHA256, 300, time.Now().Unix())
			}
			resp, _, err := c.Exchange(m, n.Addr)
			if err != nil {
				t.Fatal(err)
			}
			if resp.Rcode != tc.rcode {
				t.Fatalf("update rcode %s, want %s", dns.RcodeToString[resp.Rcode], dns.RcodeToString[tc.rcode])
			}
			txt, err := r.LookupTXT(ctx, "_acme-challenge."+tc.name+".named.test")
			if got := err == nil && slices.Equal(txt, []string{"token"}); got != tc.sign {
				t.Fatalf("TXT after update: %v, %v (want present: %v)", txt, err, tc.sign)
			}
		})
	}
}
