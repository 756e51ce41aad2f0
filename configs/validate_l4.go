package configs

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// l4Listener checks the TCP and UDP side of a listener's protocols.
func (v *validator) l4Listener(p string, l Listener) {
	tcp, udp := slices.Contains(l.Protocols, "tcp"), slices.Contains(l.Protocols, "udp")
	if udp && slices.Contains(l.Protocols, "h3") {
		v.sink.addf(p+".protocols", "udp and h3 both need this address's UDP port; use another listener for one of them")
	}
	if pp := l.ProxyProtocol; pp != nil {
		if len(pp.Trusted) == 0 {
			v.sink.addf(p+".proxy_protocol.trusted", "at least one trusted CIDR is needed: a header from anyone else is never believed")
		}
		for i, c := range pp.Trusted {
			if _, err := ParsePrefix(c); err != nil {
				v.sink.addf(fmt.Sprintf("%s.proxy_protocol.trusted[%d]", p, i), "%v", err)
			}
		}
		if pp.Timeout <= 0 {
			v.sink.addf(p+".proxy_protocol.timeout", "must be more than 0")
		}
	}
	if udp && l.L4.UDPSessions < 1 {
		v.sink.addf(p+".l4.max_udp_sessions", "must be at least 1")
	}
	if _, set := v.sink.pos[p+".l4"]; set && !tcp && !udp {
		v.sink.addf(p+".l4", "is for listeners with tcp or udp in their protocols")
	}
	if !tcp {
		return
	}
	if l.L4.PeekTimeout <= 0 {
		v.sink.addf(p+".l4.peek_timeout", "must be more than 0")
	}
	if l.L4.PeekMaxBytes < 1024 || l.L4.PeekMaxBytes > 64<<10 {
		v.sink.addf(p+".l4.peek_max_bytes", "must be between 1KiB and 64KiB")
	}
	for _, k := range []struct {
		key string
		n   int
	}{{"max_connections_per_ip", l.L4.MaxPerIP}, {"connection_rate_per_ip", l.L4.RatePerIP}, {"connection_burst_per_ip", l.L4.BurstPerIP}} {
		if k.n < 0 {
			v.sink.addf(p+".l4."+k.key, "must not be negative")
		}
	}
}

// l4Routes checks each L4 route against the listeners it is on and the
// upstream it names.
func (v *validator) l4Routes() {
	byName := map[string]Listener{}
	for _, l := range v.c.Listeners {
		byName[l.Name] = l
	}
	names := map[string]string{}
	for i := range v.c.L4Routes {
		r := &v.c.L4Routes[i]
		p := fmt.Sprintf("l4_routes[%d]", i)
		if r.Name == "" {
			r.Name = fmt.Sprintf("l4-route-%d", i)
		}
		if prev, dup := names[r.Name]; dup {
			v.sink.addf(p+".name", "duplicate route name %q (first at %s)", r.Name, prev)
		}
		names[r.Name] = p
		n := 0
		for _, a := range []*L4Action{r.TCP, r.Passthrough, r.Terminate, r.UDP} {
			if a != nil {
				n++
			}
		}
		if n != 1 {
			v.sink.addf(p, "an l4 route needs exactly one of tcp, passthrough, terminate, udp (has %d)", n)
			continue
		}
		kind, act := r.Action()
		if _, ok := v.c.Upstreams[act.Upstream]; !ok {
			v.sink.addf(fmt.Sprintf("%s.%s.upstream", p, kind), "no upstream named %q", act.Upstream)
		}
		want := "tcp"
		if kind == "udp" {
			want = "udp"
		}
		for j, ln := range r.Listeners {
			l, ok := byName[ln]
			switch {
			case !ok:
				v.sink.addf(fmt.Sprintf("%s.listeners[%d]", p, j), "no listener named %q", ln)
			case !slices.Contains(l.Protocols, want):
				v.sink.addf(fmt.Sprintf("%s.listeners[%d]", p, j), "listener %q does not list %s in its protocols", ln, want)
			case kind == "terminate" && l.TLS == nil:
				v.sink.addf(fmt.Sprintf("%s.listeners[%d]", p, j), "terminate uses the listener's certificates, and listener %q has no tls", ln)
			}
		}
		v.l4Match(p+".match", kind, r.Match)
		if r.ConnectTries < 1 {
			v.sink.addf(p+".connect_tries", "must be at least 1")
		}
		if r.IdleTimeout <= 0 {
			v.sink.addf(p+".idle_timeout", "must be more than 0")
		}
	}
	v.l4Coverage()
}

// Action is the route's action and its key; nil when none is set.
func (r *L4Route) Action() (string, *L4Action) {
	for _, a := range []struct {
		k string
		a *L4Action
	}{{"tcp", r.TCP}, {"passthrough", r.Passthrough}, {"terminate", r.Terminate}, {"udp", r.UDP}} {
		if a.a != nil {
			return a.k, a.a
		}
	}
	return "", nil
}

func (v *validator) l4Match(p, kind string, m L4Match) {
	for i, s := range m.SNI {
		sp := fmt.Sprintf("%s.sni[%d]", p, i)
		switch {
		case strings.HasPrefix(s, "~"):
			if _, err := regexp.Compile(s[1:]); err != nil {
				v.sink.addf(sp, "bad regex: %v", err)
			}
		default:
			if err := certName(s, true); err != nil {
				v.sink.addf(sp, "%v", err)
			}
		}
	}
	for i, port := range m.Ports {
		if port < 1 || port > 65535 {
			v.sink.addf(fmt.Sprintf("%s.ports[%d]", p, i), "%d is not a port", port)
		}
	}
	for i, c := range m.Clients {
		if _, err := ParsePrefix(c); err != nil {
			v.sink.addf(fmt.Sprintf("%s.clients[%d]", p, i), "%v", err)
		}
	}
	tlsOnly := kind == "passthrough" || kind == "terminate"
	switch {
	case kind == "udp" && m.TLS != nil:
		v.sink.addf(p+".tls", "a udp route matches on sni and alpn (read from a QUIC Initial), ports and clients; not tls")
	case tlsOnly && m.TLS != nil && !*m.TLS:
		v.sink.addf(p+".tls", "%s handles TLS connections only", kind)
	}
}

// l4Coverage checks that a listener serving only tcp (or udp) has routes.
func (v *validator) l4Coverage() {
	for i, l := range v.c.Listeners {
		for _, proto := range []string{"tcp", "udp"} {
			if !slices.Contains(l.Protocols, proto) {
				continue
			}
			has := slices.ContainsFunc(v.c.L4Routes, func(r L4Route) bool {
				kind, _ := r.Action()
				return (kind == "udp") == (proto == "udp") && (len(r.Listeners) == 0 || slices.Contains(r.Listeners, l.Name))
			})
			if !has {
				v.sink.addf(fmt.Sprintf("listeners[%d].protocols", i), "%s is listed but no l4_routes serve it on listener %q", proto, l.Name)
			}
		}
	}
}
