package jwtauth

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"golang.org/x/net/http/httpguts"

	"github.com/bouncer-proxy/bouncer/l7"
	"github.com/bouncer-proxy/bouncer/l7/policy/querycred"
)

// source is a checked Source: a canonical header name, and the header's
// scheme prefix.
type source struct {
	in     string
	name   string
	prefix string
}

// compileSources checks and normalises the token sources.
func compileSources(srcs []Source) ([]source, error) {
	out := make([]source, 0, len(srcs))
	var errs []error
	for i, s := range srcs {
		c, err := compileSource(s)
		if err != nil {
			errs = append(errs, fmt.Errorf("sources[%d]: %w", i, err))
			continue
		}
		out = append(out, c)
	}
	return out, errors.Join(errs...)
}

func compileSource(s Source) (source, error) {
	switch s.In {
	case InHeader:
		name := s.Name
		if name == "" {
			name = "Authorization"
		}
		if !httpguts.ValidHeaderFieldName(name) {
			return source{}, fmt.Errorf("header name %q is not a valid field name", name)
		}
		name = http.CanonicalHeaderKey(name)
		prefix := s.Prefix
		if prefix == "" && name == "Authorization" {
			prefix = "Bearer"
		}
		if prefix != "" && !httpguts.ValidHeaderFieldName(prefix) {
			return source{}, fmt.Errorf("prefix %q is not an authentication scheme name", prefix)
		}
		return source{in: InHeader, name: name, prefix: prefix}, nil
	case InCookie, InQuery:
		if s.Name == "" {
			return source{}, fmt.Errorf("%s source needs a name", s.In)
		}
		if s.In == InCookie && !httpguts.ValidHeaderFieldName(s.Name) {
			return source{}, fmt.Errorf("cookie name %q is not valid", s.Name)
		}
		if s.Prefix != "" {
			return source{}, fmt.Errorf("prefix is only for header sources")
		}
		return source{in: s.In, name: s.Name}, nil
	}
	return source{}, fmt.Errorf("unknown source %q: want header, cookie or query", s.In)
}

// token returns the first token found in the sources; l7.ErrNoCredentials
// when none has one, an invalid_request AuthError for a header whose
// scheme is ours but whose value is not one token. Every query source
// leaves the URL, also after a token was found in an earlier source, so
// that no token is proxied or logged.
func (v *Verifier) token(r *http.Request) (string, error) {
	for i := range v.sources {
		s := &v.sources[i]
		var tok string
		var ok bool
		switch s.in {
		case InHeader:
			var err error
			tok, ok, err = s.fromHeader(r.Header)
			if err != nil {
				v.dropQueryTokens(r, i+1)
				return "", v.authError("invalid_request", "malformed authorization header", err)
			}
		case InCookie:
			if c, err := r.Cookie(s.name); err == nil && c.Value != "" {
				tok, ok = c.Value, true
			}
		case InQuery:
			tok, ok = querycred.Take(r, s.name) // never proxied nor logged
			ok = ok && tok != ""
		}
		if ok {
			v.dropQueryTokens(r, i+1)
			return tok, nil
		}
	}
	return "", l7.ErrNoCredentials
}

// dropQueryTokens removes the query sources from the i-th on from r's URL.
func (v *Verifier) dropQueryTokens(r *http.Request, from int) {
	for _, s := range v.sources[from:] {
		if s.in == InQuery {
			querycred.Take(r, s.name)
		}
	}
}

// QueryParams names the query parameters the Verifier reads tokens from,
// for querycred.Strip.
func (v *Verifier) QueryParams() []string {
	var names []string
	for _, s := range v.sources {
		if s.in == InQuery {
			names = append(names, s.name)
		}
	}
	return names
}

var errMalformedHeader = errors.New("malformed token header")

// fromHeader reads the token from s's header. A value with another scheme
// is absent (another authenticator may own it); two values with our scheme,
// or ours without exactly one b64token (RFC 6750 §2.1), are malformed.
func (s *source) fromHeader(h http.Header) (string, bool, error) {
	vals := h[s.name]
	tok, ok := "", false
	for _, val := range vals {
		t, mine := s.strip(val)
		if !mine {
			continue
		}
		if ok || !isB64Token(t) {
			return "", false, errMalformedHeader
		}
		tok, ok = t, true
	}
	return tok, ok, nil
}

// strip removes the scheme prefix and the spaces after it; mine is false
// when the value has another scheme.
func (s *source) strip(val string) (tok string, mine bool) {
	if s.prefix == "" {
		return strings.TrimSpace(val), true
	}
	scheme, rest, _ := strings.Cut(val, " ")
	if !strings.EqualFold(scheme, s.prefix) {
		return "", false
	}
	return strings.TrimLeft(rest, " "), true
}

// isB64Token matches RFC 6750's b64token: 1*( ALPHA / DIGIT / "-" / "." /
// "_" / "~" / "+" / "/" ) *"=".
func isB64Token(t string) bool {
	end := len(strings.TrimRight(t, "="))
	if end == 0 {
		return false
	}
	for i := 0; i < end; i++ {
		c := t[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/':
		default:
			return false
		}
	}
	return true
}
