package configs

import (
	"strings"
	"testing"
)

// L4 listeners and routes are checked against each other, with file, line
// and key in every message.
func TestL4Validation(t *testing.T) {
	base := func(listeners, routes string) string {
		return "admin: {address: \"off\"}\nlisteners:\n" + listeners + "l4_routes:\n" + routes +
			"upstreams:\n  db: {endpoints: [\"127.0.0.1:5432\"]}\n"
	}
	tcpL := "  - {name: t, address: 127.0.0.1:0, protocols: [tcp]}\n"
	for _, c := range []struct {
		name, src, want string
	}{
		{"ok", base(tcpL, "  - {tcp: {upstream: db}}\n"), ""},
		{"tcp with http on one port", base("  - {name: t, address: 127.0.0.1:0, protocols: [tcp, http1, h2c]}\n", "  - {match: {sni: [a.test]}, passthrough: {upstream: db}}\n"), ""},
		{"missing upstream", base(tcpL, "  - {tcp: {upstream: nope}}\n"), `test.yaml:5: l4_routes[0].tcp.upstream: no upstream named "nope"`},
		{"two actions", base(tcpL, "  - {tcp: {upstream: db}, udp: {upstream: db}}\n"), "l4_routes[0]: "},
		{"listener without tcp", base(tcpL+"  - {name: h, address: 127.0.0.1:0}\n", "  - {listeners: [h], tcp: {upstream: db}}\n"), `l4_routes[0].listeners[0]: listener "h" does not list tcp`},
		{"terminate without tls", base(tcpL, "  - {listeners: [t], terminate: {upstream: db}}\n"), `terminate uses the listener's certificates, and listener "t" has no tls`},
		{"udp route matching sni (QUIC)", base("  - {name: u, address: 127.0.0.1:0, protocols: [udp]}\n", "  - {match: {sni: [a.test]}, udp: {upstream: db}}\n"), ""},
		{"udp route matching tls", base("  - {name: u, address: 127.0.0.1:0, protocols: [udp]}\n", "  - {match: {tls: true}, udp: {upstream: db}}\n"), "l4_routes[0].match.tls: a udp route matches on sni and alpn"},
		{"passthrough of non-tls", base(tcpL, "  - {match: {tls: false}, passthrough: {upstream: db}}\n"), "l4_routes[0].match.tls: passthrough handles TLS connections only"},
		{"bad sni regex", base(tcpL, "  - {match: {sni: [\"~a(\"]}, tcp: {upstream: db}}\n"), "l4_routes[0].match.sni[0]: bad regex"},
		{"bad client", base(tcpL, "  - {match: {clients: [nope]}, tcp: {upstream: db}}\n"), "l4_routes[0].match.clients[0]: "},
		{"bad port", base(tcpL, "  - {match: {ports: [70000]}, tcp: {upstream: db}}\n"), "l4_routes[0].match.ports[0]: 70000 is not a port"},
		{"tcp without routes", base(tcpL, "  - {udp: {upstream: db}}\n"), `listeners[0].protocols: tcp is listed but no l4_routes serve it on listener "t"`},
		{"udp beside h3", base("  - {name: q, address: 127.0.0.1:0, protocols: [h3, udp], tls: {local_ca: {}}}\n", "  - {udp: {upstream: db}}\n"), "udp and h3 both need this address's UDP port"},
		{"proxy protocol untrusted list", base("  - {name: t, address: 127.0.0.1:0, protocols: [tcp], proxy_protocol: {trusted: [bad]}}\n", "  - {tcp: {upstream: db}}\n"), "listeners[0].proxy_protocol.trusted[0]: "},
		{"l4 block on an http listener", base(tcpL+"  - {name: h, address: 127.0.0.1:0, l4: {peek_timeout: 1s}}\n", "  - {tcp: {upstream: db}}\n"), "listeners[1].l4: is for listeners with tcp or udp"},
		{"http3 block without h3", base(tcpL+"  - {name: h, address: 127.0.0.1:0, http3: {allow_0rtt: true}}\n", "  - {tcp: {upstream: db}}\n"), "listeners[1].http3: is for listeners with h3"},
		{"peek bound", base("  - {name: t, address: 127.0.0.1:0, protocols: [tcp], l4: {peek_max_bytes: 1MiB}}\n", "  - {tcp: {upstream: db}}\n"), "listeners[0].l4.peek_max_bytes: must be between 1KiB and 64KiB"},
	} {
		_, err := Parse([]byte(c.src), "test.yaml")
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: %v, want an error containing %q", c.name, err, c.want)
		}
	}
}
