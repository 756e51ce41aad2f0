package configs

import (
	"fmt"
	"math"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/net/http/httpguts"
)

// Validate checks what the decoder cannot: references between sections,
// uniqueness, value ranges and combinations. It reports every problem at
// once, each with file, line and key path. Route conflicts are found when
// the route table is compiled (see l7/route), which `bouncer validate` does too.
func (c *Config) Validate() error {
	v := &validator{c: c, sink: errorSink{file: c.File, pos: c.pos}}
	v.admin()
	v.server()
	v.listeners()
	v.upstreams()
	v.routes()
	v.l4Routes()
	v.acme()
	v.redis()
	v.policies()
	if c.Sample.Enabled {
		v.hostPort("sample.address", c.Sample.Address)
		for i, a := range c.Sample.TCPEcho {
			v.hostPort(fmt.Sprintf("sample.tcp_echo[%d]", i), a)
		}
		if a := c.Sample.GRPCAddress; a != "" && v.hostPort("sample.grpc_address", a) && a == c.Sample.Address {
			v.sink.addf("sample.grpc_address", "is the same as sample.address")
		}
	}
	return v.sink.err()
}

type validator struct {
	c    *Config
	sink errorSink
}

func (v *validator) admin() {
	if a := v.c.Admin.Address; a != "off" {
		v.hostPort("admin.address", a)
	}
}

func (v *validator) server() {
	for i, p := range v.c.Server.TrustedProxies {
		if _, err := ParsePrefix(p); err != nil {
			v.sink.addf(fmt.Sprintf("server.trusted_proxies[%d]", i), "%v", err)
		}
	}
	if h := v.c.Server.RequestIDHeader; !httpguts.ValidHeaderFieldName(h) {
		v.sink.addf("server.request_id_header", "%q is not a valid header name", h)
	}
	if v.c.Server.MaxConnections < 0 {
		v.sink.addf("server.max_connections", "must not be negative")
	}
	if v.c.Server.MaxBodyBytes < 0 {
		v.sink.addf("server.max_request_body_bytes", "must not be negative")
	}
}

// ParsePrefix reads a CIDR ("10.0.0.0/8") or a single IP.
func ParsePrefix(s string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is neither a CIDR nor an IP address", s)
	}
	return netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()), nil
}

func (v *validator) listeners() {
	if len(v.c.Listeners) == 0 {
		v.sink.addf("listeners", "at least one listener is needed")
	}
	names := map[string]string{}
	addrs := map[string]string{}
	for i, l := range v.c.Listeners {
		p := fmt.Sprintf("listeners[%d]", i)
		if l.Name == "" {
			// Routes, tables and metrics find listeners by name.
			v.sink.addf(p+".name", "must not be empty")
		} else if prev, dup := names[l.Name]; dup {
			v.sink.addf(p+".name", "duplicate listener name %q (first at %s)", l.Name, prev)
		} else {
			names[l.Name] = p
		}
		if v.hostPort(p+".address", l.Address) {
			if key := normAddr(l.Address); key != "" {
				if prev, dup := addrs[key]; dup {
					v.sink.addf(p+".address", "duplicate listener address %q (also %s)", l.Address, prev)
				} else {
					addrs[key] = p
				}
			}
		}
		v.listenerProtocols(p, l)
		v.l4Listener(p, l)
		v.limits(p+".limits", l.Limits)
	}
}

func (v *validator) listenerProtocols(p string, l Listener) {
	if len(l.Protocols) == 0 {
		v.sink.addf(p+".protocols", "at least one protocol is needed")
	}
	seen := map[string]bool{}
	for i, proto := range l.Protocols {
		pp := fmt.Sprintf("%s.protocols[%d]", p, i)
		if seen[proto] {
			v.sink.addf(pp, "protocol %q listed twice", proto)
		}
		seen[proto] = true
		switch {
		case proto == "h2" && l.TLS == nil:
			v.sink.addf(pp, "h2 needs tls on this listener (use h2c for HTTP/2 without TLS)")
		case proto == "h2c" && l.TLS != nil:
			v.sink.addf(pp, "h2c is HTTP/2 without TLS; with tls use h2")
		case proto == "h3" && l.TLS == nil:
			v.sink.addf(pp, "h3 (HTTP/3) needs tls on this listener")
		}
	}
	if l.TLS != nil {
		v.listenerTLS(p+".tls", l.TLS)
		if l.Redirect != nil {
			v.sink.addf(p+".redirect_https", "is for a plain HTTP listener; this one already serves tls")
		}
	}
	if r := l.Redirect; r != nil && (r.Port < 1 || r.Port > 65535) {
		v.sink.addf(p+".redirect_https.port", "must be a port number (1 to 65535)")
	}
	if _, set := v.sink.pos[p+".http3"]; set && !slices.Contains(l.Protocols, "h3") {
		v.sink.addf(p+".http3", "is for listeners with h3 in their protocols")
	}
	if l.HTTP3.RetryAbove < 0 {
		v.sink.addf(p+".http3.retry_above", "must not be negative")
	}
}

func (v *validator) limits(p string, l ListenerLimits) {
	if l.MaxHeaderBytes < 1024 {
		v.sink.addf(p+".max_header_bytes", "must be at least 1KiB")
	}
	if l.MaxConcurrentStreams < 1 || l.MaxConcurrentStreams > math.MaxUint32 {
		// HTTP/2 sends it as a 32-bit setting (RFC 9113, 6.5.2).
		v.sink.addf(p+".max_concurrent_streams", "must be between 1 and %d", uint32(math.MaxUint32))
	}
	if l.MaxConnections < 0 {
		v.sink.addf(p+".max_connections", "must not be negative")
	}
}

// hostPort checks a host:port listen or dial address.
func (v *validator) hostPort(path, addr string) bool {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		v.sink.addf(path, "%q is not host:port: %v", addr, strings.TrimPrefix(err.Error(), "address "+addr+": "))
		return false
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		v.sink.addf(path, "%q has a bad port %q", addr, port)
		return false
	}
	if strings.ContainsAny(host, " /") {
		v.sink.addf(path, "%q has a bad host %q", addr, host)
		return false
	}
	return true
}

// normAddr gives a key for duplicate detection; "" for port 0 (always unique).
func normAddr(addr string) string {
	host, port, _ := net.SplitHostPort(addr)
	if port == "0" {
		return ""
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "*"
	}
	return host + ":" + port
}
