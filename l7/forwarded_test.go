package l7_test

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/bouncer-proxy/bouncer/l7"
)

func trustedOf(t *testing.T, cidrs ...string) *l7.Trusted {
	t.Helper()
	var ps []netip.Prefix
	for _, c := range cidrs {
		ps = append(ps, netip.MustParsePrefix(c))
	}
	return l7.NewTrusted(ps)
}

// TestTrustedContains checks prefix membership, IPv4-mapped addresses and
// that nil and empty sets trust nobody.
func TestTrustedContains(t *testing.T) {
	tr := trustedOf(t, "10.0.0.0/8", "127.0.0.1/32", "fd00::/8")
	tests := []struct {
		addr string
		want bool
	}{
		{"10.1.2.3", true}, {"11.0.0.1", false}, {"127.0.0.1", true}, {"127.0.0.2", false},
		{"::ffff:10.0.0.1", true}, {"fd12::1", true}, {"fe80::1", false},
	}
	for _, tc := range tests {
		if got := tr.Contains(netip.MustParseAddr(tc.addr)); got != tc.want {
			t.Errorf("Contains(%s) = %v, want %v", tc.addr, got, tc.want)
		}
	}
	var none *l7.Trusted
	if none.Contains(netip.MustParseAddr("127.0.0.1")) || l7.NewTrusted(nil).Contains(netip.MustParseAddr("127.0.0.1")) {
		t.Error("an empty set trusts an address")
	}
}

// TestClientAddr checks how the original client is found from the peer
// and X-Forwarded-For.
func TestClientAddr(t *testing.T) {
	tr := trustedOf(t, "10.0.0.0/8")
	tests := []struct {
		name string
		peer string
		xff  []string
		want string
	}{
		{"untrusted peer ignores the header", "203.0.113.9", []string{"1.1.1.1"}, "203.0.113.9"},
		{"trusted peer without header", "10.0.0.1", nil, "10.0.0.1"},
		{"trusted peer, one hop", "10.0.0.1", []string{"198.51.100.7"}, "198.51.100.7"},
		{"skips trusted hops from the right", "10.0.0.1", []string{"198.51.100.7, 10.0.0.5, 10.0.0.6"}, "198.51.100.7"},
		{"stops at the first untrusted", "10.0.0.1", []string{"6.6.6.6, 198.51.100.7, 10.0.0.5"}, "198.51.100.7"},
		{"several header lines", "10.0.0.1", []string{"198.51.100.7", "10.0.0.9"}, "198.51.100.7"},
		{"garbage stops the walk", "10.0.0.1", []string{"6.6.6.6, junk, 10.0.0.5"}, "10.0.0.5"},
		{"ipv6 client", "10.0.0.1", []string{"2001:db8::1"}, "2001:db8::1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tc.peer + ":5555"
			for _, v := range tc.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := tr.ClientAddr(r, l7.PeerAddr(r)).String(); got != tc.want {
				t.Errorf("ClientAddr = %s, want %s", got, tc.want)
			}
		})
	}
}

// TestSetForwarded checks the headers written for an upstream.
func TestSetForwarded(t *testing.T) {
	tr := trustedOf(t, "10.0.0.0/8")
	tests := []struct {
		name   string
		peer   string
		host   string
		tls    bool
		in     map[string]string
		xff    string
		proto  string
		fwHost string
		fwd    string
		set    l7.Forwarding
	}{
		{
			name: "untrusted, forged values replaced", peer: "203.0.113.9:1", host: "api.test",
			in:  map[string]string{"X-Forwarded-For": "1.1.1.1", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "evil", "Forwarded": "for=1.1.1.1"},
			xff: "203.0.113.9", proto: "http", fwHost: "api.test", fwd: "for=203.0.113.9;host=api.test;proto=http", set: l7.ForwardedAll,
		},
		{
			name: "trusted, appended", peer: "10.0.0.1:1", host: "api.test", tls: true,
			in:  map[string]string{"X-Forwarded-For": "1.1.1.1", "X-Forwarded-Proto": "http", "Forwarded": "for=1.1.1.1"},
			xff: "1.1.1.1, 10.0.0.1", proto: "http", fwHost: "api.test", fwd: "for=1.1.1.1, for=10.0.0.1;host=api.test;proto=https", set: l7.ForwardedAll,
		},
		{
			name: "ipv6 peer and host with port are quoted", peer: "[2001:db8::1]:1", host: "api.test:8080", tls: true,
			xff: "2001:db8::1", proto: "https", fwHost: "api.test:8080", fwd: `for="[2001:db8::1]";host="api.test:8080";proto=https`, set: l7.ForwardedAll,
		},
		{
			name: "untrusted, only X-Forwarded-For set: the others the client sent are removed", peer: "203.0.113.9:1", host: "api.test",
			in:  map[string]string{"X-Forwarded-For": "1.1.1.1", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "evil", "Forwarded": "for=1.1.1.1"},
			xff: "203.0.113.9", set: l7.ParseForwarding([]string{"x-forwarded-for"}),
		},
		{
			name: "untrusted, none set: every forged value removed", peer: "203.0.113.9:1", host: "api.test",
			in: map[string]string{"X-Forwarded-For": "1.1.1.1", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "evil", "Forwarded": "for=1.1.1.1"},
		},
		{
			name: "trusted, none set: passed on unchanged", peer: "10.0.0.1:1", host: "api.test",
			in:  map[string]string{"X-Forwarded-For": "1.1.1.1", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "front", "Forwarded": "for=1.1.1.1"},
			xff: "1.1.1.1", proto: "https", fwHost: "front", fwd: "for=1.1.1.1",
		},
		{
			name: "trusted, Forwarded and proto only", peer: "10.0.0.1:1", host: "api.test", tls: true,
			in:  map[string]string{"X-Forwarded-For": "1.1.1.1"},
			xff: "1.1.1.1", proto: "https", fwd: "for=10.0.0.1;host=api.test;proto=https",
			set: l7.ParseForwarding([]string{"forwarded", "x-forwarded-proto"}),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr, r.Host = tc.peer, tc.host
			if tc.tls {
				r.TLS = &tls.ConnectionState{}
			}
			out := http.Header{}
			for k, v := range tc.in {
				out.Set(k, v)
			}
			tr.SetForwarded(out, r, l7.PeerAddr(r), tc.set)
			for k, want := range map[string]string{"X-Forwarded-For": tc.xff, "X-Forwarded-Proto": tc.proto, "X-Forwarded-Host": tc.fwHost, "Forwarded": tc.fwd} {
				if got := strings.Join(out.Values(k), ", "); got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
		})
	}
}

// TestForwardedThroughGateway checks, end to end, the client IP the
// gateway records and the forwarding headers for a trusted and an
// untrusted peer (the test client is 127.0.0.1).
func TestForwardedThroughGateway(t *testing.T) {
	for _, tc := range []struct {
		name, server, wantIP, wantXFF string
	}{
		{"untrusted", "", "127.0.0.1", "127.0.0.1"},
		{"trusted", "trusted_proxies: [127.0.0.1]", "198.51.100.7", "198.51.100.7, 127.0.0.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := startTestGateway(t, gatewayConfig(tc.server, echoRoutes), gatewayOptions{})
			e := decodeEchoed(t, send(t, client(t), "GET", g.URL+"/api/x", nil, "X-Forwarded-For", "198.51.100.7", "Host", "shop.test"))
			if e.ClientIP != tc.wantIP {
				t.Errorf("client IP %q, want %q", e.ClientIP, tc.wantIP)
			}
			if got := e.Forwarded.Get("X-Forwarded-For"); got != tc.wantXFF {
				t.Errorf("X-Forwarded-For %q, want %q", got, tc.wantXFF)
			}
			if got := e.Forwarded.Get("X-Forwarded-Host"); got != "shop.test" || e.Host != "shop.test" {
				t.Errorf("X-Forwarded-Host %q, Host %q", got, e.Host)
			}
		})
	}
}

func TestTrustedFrom(t *testing.T) {
	tr, err := l7.TrustedFrom([]string{"10.0.0.0/8", "192.0.2.7"})
	if err != nil {
		t.Fatal(err)
	}
	for addr, want := range map[string]bool{"10.1.2.3": true, "192.0.2.7": true, "192.0.2.8": false, "::ffff:10.0.0.1": true} {
		if got := tr.Contains(netip.MustParseAddr(addr)); got != want {
			t.Errorf("Contains(%s) = %v, want %v", addr, got, want)
		}
	}
	if _, err := l7.TrustedFrom([]string{"10.0.0.0/33"}); err == nil {
		t.Error("a bad CIDR was accepted")
	}
}
