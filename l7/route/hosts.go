package route

import (
	"errors"
	"net/netip"
	"strings"
)

// maxHost bounds the request host copied for lookup; DNS names have at
// most 253 bytes, so a longer host can only match routes without hosts.
const maxHost = 256

// hostPattern is one compiled entry of Match.Hosts.
type hostPattern struct {
	key  string // lower-case name; for a wildcard the suffix from its dot: ".example.com"
	wild bool
}

// String is the pattern as it is shown and compared for conflicts.
func (h hostPattern) String() string {
	if h.wild {
		return "*" + h.key
	}
	return h.key
}

// parseHost compiles one configured host: an exact name, "*." followed by
// a name (any host ending in that suffix, not the name itself), or an IP
// address (IPv6 with or without brackets). Case and a trailing dot are
// ignored; a port is an error, since the port never takes part in matching.
func parseHost(s string) (hostPattern, error) {
	h := strings.TrimSuffix(strings.ToLower(s), ".")
	switch {
	case h == "":
		return hostPattern{}, errors.New("empty host")
	case h == "*":
		return hostPattern{}, errors.New(`"*" alone is not a host: leave hosts out to match any host`)
	case strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]"):
		a, err := netip.ParseAddr(h[1 : len(h)-1])
		if err != nil || !a.Is6() {
			return hostPattern{}, errors.New("brackets hold an IPv6 address")
		}
		return hostPattern{key: h[1 : len(h)-1]}, nil
	case strings.Contains(h, ":"):
		if a, err := netip.ParseAddr(h); err == nil && a.Is6() {
			return hostPattern{key: h}, nil
		}
		return hostPattern{}, errors.New("a host has no port: the port never takes part in matching")
	case strings.HasPrefix(h, "*."):
		if err := checkDNSName(h[2:]); err != nil {
			return hostPattern{}, err
		}
		return hostPattern{key: h[1:], wild: true}, nil
	case strings.Contains(h, "*"):
		return hostPattern{}, errors.New(`a wildcard is only allowed as the whole first label, as in "*.example.com"`)
	}
	return hostPattern{key: h}, checkDNSName(h)
}

// checkDNSName checks a lower-case host name: labels of 1 to 63 letters,
// digits, "-" or "_", at most 253 bytes in all.
func checkDNSName(h string) error {
	if len(h) > 253 {
		return errors.New("host name longer than 253 bytes")
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 {
			return errors.New("host name labels have 1 to 63 characters")
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return errors.New("host names have letters, digits, - and _ only")
			}
		}
	}
	return nil
}

// requestHost copies the request's host into buf as a lookup key: the port
// and IPv6 brackets are dropped, then a trailing dot, and it is lowered. It
// reports false when the host is too long to be a configured one, and
// whether the key is a host name (labels of letters, digits, "-" and "_"),
// the only kind of host a wildcard may match. It does not allocate.
func requestHost(host string, buf *[maxHost]byte) (key []byte, ok, name bool) {
	if strings.HasPrefix(host, "[") {
		end := strings.IndexByte(host, ']')
		if end < 0 {
			return nil, false, false
		}
		host = host[1:end]
	} else if i := strings.LastIndexByte(host, ':'); i >= 0 && strings.IndexByte(host, ':') == i {
		host = host[:i] // one colon: a port; more: a bare IPv6 address
	}
	host = strings.TrimSuffix(host, ".")
	if len(host) > maxHost {
		return nil, false, false
	}
	b := buf[:len(host)]
	name = host != ""
	prev := byte('.') // no empty label, at the start either
	for i := 0; i < len(host); i++ {
		c := host[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b[i] = c
		if c == '.' && prev == '.' || !nameByte(c) {
			name = false
		}
		prev = c
	}
	return b, true, name
}

// nameByte reports a byte of a lower-case host name.
func nameByte(c byte) bool {
	return 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.'
}
