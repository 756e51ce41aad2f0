package traffic

import (
	"fmt"
	"math/bits"
	"net/http"
	"net/textproto"
	"strings"

	"github.com/bouncer-proxy/bouncer/l7"
)

// keyKind is where a sticky key comes from.
type keyKind uint8

const (
	keyNone keyKind = iota
	keyClientIP
	keyHeader
	keyCookie
	keyConsumer
)

// keySource reads a request's sticky key.
type keySource struct {
	kind keyKind
	name string // canonical header name or cookie name
}

// parseKeySource parses SplitOptions.Sticky.
func parseKeySource(s string) (keySource, error) {
	switch {
	case s == "":
		return keySource{}, nil
	case s == "client_ip":
		return keySource{kind: keyClientIP}, nil
	case s == "consumer":
		return keySource{kind: keyConsumer}, nil
	case strings.HasPrefix(s, "header:"):
		name := s[len("header:"):]
		if !validToken(name) {
			return keySource{}, fmt.Errorf("invalid header name %q", name)
		}
		return keySource{kind: keyHeader, name: textproto.CanonicalMIMEHeaderKey(name)}, nil
	case strings.HasPrefix(s, "cookie:"):
		name := s[len("cookie:"):]
		if !validToken(name) {
			return keySource{}, fmt.Errorf("invalid cookie name %q", name)
		}
		return keySource{kind: keyCookie, name: name}, nil
	}
	return keySource{}, fmt.Errorf("unknown key %q (want client_ip, header:NAME, cookie:NAME or consumer)", s)
}

// hash returns the hash of r's key continued from seed, or false when r has
// no key (or the split is not sticky). It does not allocate.
func (k keySource) hash(r *http.Request, seed uint64) (uint64, bool) {
	var v string
	switch k.kind {
	case keyNone:
		return 0, false
	case keyClientIP:
		return k.hashClient(r, seed)
	case keyHeader:
		if vs := r.Header[k.name]; len(vs) > 0 {
			v = vs[0]
		}
	case keyCookie:
		v, _ = cookieValue(r.Header, k.name)
	case keyConsumer:
		if info := l7.InfoFrom(r.Context()); info != nil && info.Identity != nil {
			v = info.Identity.Consumer
		}
	}
	if v == "" {
		return 0, false
	}
	return mix(fnvString(seed, v)), true
}

// hashClient hashes the client address as 16 bytes, so an IPv4 client and
// its IPv4-mapped form land together.
func (k keySource) hashClient(r *http.Request, seed uint64) (uint64, bool) {
	if info := l7.InfoFrom(r.Context()); info != nil && info.Client.IsValid() {
		return mix(fnvAddr(seed, info.Client.As16())), true
	}
	a := l7.PeerAddr(r)
	if !a.IsValid() {
		return 0, false
	}
	return mix(fnvAddr(seed, a.As16())), true
}

// FNV-1a, 64 bit. Fixed constants (no per-process seed) keep placements the
// same across processes and rebuilds.
const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

// seedFor is the FNV state after the salt and a separator.
func seedFor(salt string) uint64 {
	h := fnvString(fnvOffset, salt)
	return (h ^ 0xff) * fnvPrime
}

func fnvString(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime
	}
	return h
}

func fnvAddr(h uint64, a [16]byte) uint64 {
	for _, c := range a {
		h ^= uint64(c)
		h *= fnvPrime
	}
	return h
}

// mix spreads FNV's weak high bits (the splitmix64 finaliser), since scale
// reads the high bits.
func mix(h uint64) uint64 {
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	h ^= h >> 31
	return h
}

// scale maps h uniformly onto [0, n): h/2⁶⁴ × n, without modulo bias.
func scale(h, n uint64) uint64 {
	hi, _ := bits.Mul64(h, n)
	return hi
}

// cookieValue finds the named cookie in the request's Cookie headers
// without allocating (http.Request.Cookie parses them all). Surrounding
// double quotes are removed, as RFC 6265 §4.1.1 allows them.
func cookieValue(h http.Header, name string) (string, bool) {
	for _, line := range h["Cookie"] {
		for line != "" {
			var part string
			part, line, _ = strings.Cut(line, ";")
			k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
			if !ok || k != name {
				continue
			}
			if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
				v = v[1 : len(v)-1]
			}
			return v, true
		}
	}
	return "", false
}
