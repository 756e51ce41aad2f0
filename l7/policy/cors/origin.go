package cors

import (
	"fmt"
	"net/url"
	"strings"
)

// originSet is the compiled AllowOrigins: exact origins, wildcard-subdomain
// patterns, or any origin.
type originSet struct {
	any   bool
	exact map[string]struct{}
	wild  []wildOrigin
}

// wildOrigin matches scheme://<one or more labels>.suffix[:port].
type wildOrigin struct {
	prefix string // "https://"
	suffix string // ".example.com" or ".example.com:8443"
}

func compileOrigins(list []string) (originSet, error) {
	s := originSet{exact: make(map[string]struct{}, len(list))}
	for i, o := range list {
		o = strings.TrimSpace(o)
		switch {
		case o == "*":
			s.any = true
		case o == "null":
			// The opaque origin of sandboxed frames and file: pages; it
			// can be allowed, but only by name.
			s.exact[o] = struct{}{}
		case strings.Contains(o, "*"):
			w, err := parseWild(o)
			if err != nil {
				return originSet{}, fmt.Errorf("cors: allow_origins[%d]: %w", i, err)
			}
			s.wild = append(s.wild, w)
		default:
			n, err := normalOrigin(o)
			if err != nil {
				return originSet{}, fmt.Errorf("cors: allow_origins[%d]: %w", i, err)
			}
			s.exact[n] = struct{}{}
		}
	}
	return s, nil
}

// allows reports whether the request's Origin header value is allowed.
// Browsers send the serialized origin, lowercase scheme and host without
// a default port (RFC 6454 §6.2); other forms are compared as sent, after
// lowercasing.
func (s *originSet) allows(origin string) bool {
	if origin == "" {
		return false
	}
	if s.any {
		return true
	}
	o := lowerASCII(origin)
	if _, ok := s.exact[o]; ok {
		return true
	}
	for _, w := range s.wild {
		if w.matches(o) {
			return true
		}
	}
	return false
}

// matches requires at least one non-empty host label before the suffix, so
// https://*.example.com matches neither https://example.com nor
// https://evil-example.com, and the label must not contain a port, path
// or userinfo separator.
func (w wildOrigin) matches(o string) bool {
	if len(o) <= len(w.prefix)+len(w.suffix) || !strings.HasPrefix(o, w.prefix) || !strings.HasSuffix(o, w.suffix) {
		return false
	}
	labels := o[len(w.prefix) : len(o)-len(w.suffix)]
	if labels[0] == '.' || labels[len(labels)-1] == '.' || strings.Contains(labels, "..") {
		return false
	}
	return !strings.ContainsAny(labels, ":/@?#[] ")
}

// parseWild reads https://*.example.com[:port]: the star must be the whole
// leftmost label and be followed by at least two labels' worth of domain.
func parseWild(o string) (wildOrigin, error) {
	scheme, rest, ok := strings.Cut(o, "://")
	if !ok || scheme == "" || !strings.HasPrefix(rest, "*.") || strings.Count(o, "*") != 1 {
		return wildOrigin{}, fmt.Errorf("origin pattern %q: want scheme://*.domain[:port]", o)
	}
	n, err := normalOrigin(scheme + "://x" + rest[1:])
	if err != nil {
		return wildOrigin{}, fmt.Errorf("origin pattern %q: %w", o, err)
	}
	host := strings.TrimPrefix(n, scheme+"://x")
	if !strings.Contains(strings.TrimPrefix(host, "."), ".") {
		return wildOrigin{}, fmt.Errorf("origin pattern %q: the domain after *. needs at least two labels", o)
	}
	return wildOrigin{prefix: lowerASCII(scheme) + "://", suffix: host}, nil
}

// normalOrigin checks that o is scheme://host[:port] and returns it
// lowercased, with a default port (80 for http, 443 for https) dropped as
// browsers serialize it.
func normalOrigin(o string) (string, error) {
	u, err := url.Parse(o)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return "", fmt.Errorf("origin %q: want scheme://host[:port]", o)
	}
	if u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return "", fmt.Errorf("origin %q: an origin has no path, query, fragment or user", o)
	}
	scheme, host := lowerASCII(u.Scheme), lowerASCII(u.Host)
	switch port := u.Port(); {
	case scheme == "http" && port == "80", scheme == "https" && port == "443":
		host = strings.TrimSuffix(host, ":"+port)
	}
	return scheme + "://" + host, nil
}

// lowerASCII lowercases s, allocating only when it has an uppercase letter.
func lowerASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			return strings.ToLower(s)
		}
	}
	return s
}
