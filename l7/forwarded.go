package l7

import (
	"net"
	"net/http"
	"net/netip"
	"strings"

	"github.com/bouncer-proxy/bouncer/configs"
)

// Trusted is the set of proxies whose forwarding headers are believed.
// The zero value trusts nobody, which is the safe default.
type Trusted struct {
	prefixes []netip.Prefix
}

// NewTrusted makes a Trusted from parsed prefixes.
func NewTrusted(prefixes []netip.Prefix) *Trusted { return &Trusted{prefixes: prefixes} }

// Contains reports whether a is a trusted proxy.
func (t *Trusted) Contains(a netip.Addr) bool {
	if t == nil {
		return false
	}
	a = a.Unmap()
	for _, p := range t.prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// PeerAddr parses the IP of r.RemoteAddr.
func PeerAddr(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err == nil {
		return ap.Addr().Unmap()
	}
	host, _, _ := net.SplitHostPort(r.RemoteAddr)
	a, _ := netip.ParseAddr(host)
	return a.Unmap()
}

// ClientAddr finds the original client: the peer itself unless the peer is
// trusted, in which case X-Forwarded-For is walked from the right, skipping
// trusted hops, and the first untrusted address is the client.
func (t *Trusted) ClientAddr(r *http.Request, peer netip.Addr) netip.Addr {
	if !t.Contains(peer) {
		return peer
	}
	client := peer
	values := r.Header.Values("X-Forwarded-For")
	for i := len(values) - 1; i >= 0; i-- {
		parts := strings.Split(values[i], ",")
		for j := len(parts) - 1; j >= 0; j-- {
			a, err := netip.ParseAddr(strings.TrimSpace(parts[j]))
			if err != nil {
				return client
			}
			client = a.Unmap()
			if !t.Contains(client) {
				return client
			}
		}
	}
	return client
}

// Forwarding is a set of the forwarding headers a proxy sets on the
// requests it sends upstream.
type Forwarding uint8

// The forwarding headers.
const (
	ForwardedFor   Forwarding = 1 << iota // X-Forwarded-For
	ForwardedProto                        // X-Forwarded-Proto
	ForwardedHost                         // X-Forwarded-Host
	ForwardedRFC                          // Forwarded (RFC 7239)

	ForwardedAll = ForwardedFor | ForwardedProto | ForwardedHost | ForwardedRFC
)

// ParseForwarding makes a Forwarding from the lower-case header names of
// the config (validated there); it ignores names it does not know.
func ParseForwarding(names []string) Forwarding {
	var f Forwarding
	for _, n := range names {
		switch n {
		case "x-forwarded-for":
			f |= ForwardedFor
		case "x-forwarded-proto":
			f |= ForwardedProto
		case "x-forwarded-host":
			f |= ForwardedHost
		case "forwarded":
			f |= ForwardedRFC
		}
	}
	return f
}

// SetForwarded writes the forwarding headers of set on out, the header sent
// upstream: X-Forwarded-For, -Proto, -Host and Forwarded (RFC 7239). Values
// that the client sent are kept and extended only when the peer is
// trusted; otherwise they are replaced, so a client cannot forge its
// address. A header not in set is left as it is when the peer is trusted
// and removed when it is not.
func (t *Trusted) SetForwarded(out http.Header, r *http.Request, peer netip.Addr, set Forwarding) {
	trusted := t.Contains(peer)
	if set != ForwardedAll && !trusted {
		for _, h := range [...]struct {
			f    Forwarding
			name string
		}{{ForwardedFor, "X-Forwarded-For"}, {ForwardedProto, "X-Forwarded-Proto"}, {ForwardedHost, "X-Forwarded-Host"}, {ForwardedRFC, "Forwarded"}} {
			if set&h.f == 0 {
				delete(out, h.name)
			}
		}
	}
	if set == 0 {
		return
	}
	proto := "http"
	if r.TLS != nil {
		proto = "https"
	}
	peerS := peerString(r.RemoteAddr, peer)
	vals := make([]string, 4) // one allocation for the four fields
	put := func(i int, k, v string) {
		vals[i] = v
		out[k] = vals[i : i+1 : i+1]
	}
	if set&ForwardedFor != 0 {
		if prior := strings.Join(out.Values("X-Forwarded-For"), ", "); trusted && prior != "" {
			put(0, "X-Forwarded-For", prior+", "+peerS)
		} else {
			put(0, "X-Forwarded-For", peerS)
		}
	}
	if set&ForwardedProto != 0 && (!trusted || out.Get("X-Forwarded-Proto") == "") {
		put(1, "X-Forwarded-Proto", proto)
	}
	if set&ForwardedHost != 0 && (!trusted || out.Get("X-Forwarded-Host") == "") {
		put(2, "X-Forwarded-Host", r.Host)
	}
	if set&ForwardedRFC != 0 {
		elem := "for=" + forwardedNode(peer, peerS) + ";host=" + quoteIfNeeded(r.Host) + ";proto=" + proto
		if prior := strings.Join(out.Values("Forwarded"), ", "); trusted && prior != "" {
			put(3, "Forwarded", prior+", "+elem)
		} else {
			put(3, "Forwarded", elem)
		}
	}
}

// peerString is peer in text: the host part of remoteAddr when that is
// already its IPv4 form (no allocation), otherwise formatted.
func peerString(remoteAddr string, peer netip.Addr) string {
	if peer.Is4() {
		if host, _, err := net.SplitHostPort(remoteAddr); err == nil && strings.IndexByte(host, ':') < 0 {
			return host
		}
	}
	return peer.String()
}

// forwardedNode formats an address as an RFC 7239 node: IPv6 is bracketed
// and quoted (section 6).
func forwardedNode(a netip.Addr, text string) string {
	if a.Is6() {
		return `"[` + text + `]"`
	}
	return text
}

// quotedPairs escapes a value for an RFC 7230 quoted-string.
var quotedPairs = strings.NewReplacer(`\`, `\\`, `"`, `\"`)

func quoteIfNeeded(s string) string {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '-' || c == '.' || c == '_' || c == '~' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return `"` + quotedPairs.Replace(s) + `"`
		}
	}
	return s
}

// TrustedFrom parses server.trusted_proxies (CIDRs or single IPs).
func TrustedFrom(list []string) (*Trusted, error) {
	prefixes := make([]netip.Prefix, 0, len(list))
	for _, p := range list {
		pfx, err := configs.ParsePrefix(p)
		if err != nil {
			return nil, err
		}
		prefixes = append(prefixes, pfx)
	}
	return NewTrusted(prefixes), nil
}
