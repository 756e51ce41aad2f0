package jwtauth

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/net/http/httpguts"

	"github.com/bouncer-proxy/bouncer/l7"
)

// claimHeader forwards one claim as one upstream header.
type claimHeader struct {
	claim  string
	path   []string // claim split on dots, for nested objects
	header string   // canonical
}

// reservedHeaders are framing and routing headers a claim must not set.
var reservedHeaders = map[string]bool{
	"Host": true, "Content-Length": true, "Transfer-Encoding": true, "Connection": true,
	"Te": true, "Upgrade": true, "Trailer": true, "Keep-Alive": true, "Proxy-Connection": true,
}

// compileForward checks ClaimsToHeaders and orders it by claim name, so
// headers are set in a stable order.
func compileForward(m map[string]string) ([]claimHeader, error) {
	out := make([]claimHeader, 0, len(m))
	var errs []error
	for claim, header := range m {
		switch {
		case claim == "":
			errs = append(errs, errors.New("claims_to_headers: empty claim name"))
		case !httpguts.ValidHeaderFieldName(header):
			errs = append(errs, fmt.Errorf("claims_to_headers: %q is not a valid header name", header))
		case reservedHeaders[http.CanonicalHeaderKey(header)]:
			errs = append(errs, fmt.Errorf("claims_to_headers: header %q cannot be set from a claim", header))
		default:
			out = append(out, claimHeader{claim: claim, path: strings.Split(claim, "."), header: http.CanonicalHeaderKey(header)})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].claim < out[j].claim })
	return out, errors.Join(errs...)
}

// identity builds the caller's identity from verified claims.
func (v *Verifier) identity(claims map[string]any) *l7.Identity {
	sub, _ := claims["sub"].(string)
	id := &l7.Identity{Method: "jwt", Subject: sub, Consumer: sub, Claims: claims, Scopes: scopes(claims)}
	for _, f := range v.forward {
		val, ok := f.value(claims)
		if !ok {
			continue
		}
		if id.Forward == nil {
			id.Forward = make(http.Header, len(v.forward))
		}
		id.Forward[f.header] = []string{val}
	}
	return id
}

// value renders the claim as header text; false when absent, null, or not
// a valid field value (CR, LF and other controls could split or smuggle
// headers).
func (f claimHeader) value(claims map[string]any) (string, bool) {
	c, ok := claims[f.claim]
	if !ok && len(f.path) > 1 {
		c, ok = walk(claims, f.path)
	}
	if !ok || c == nil {
		return "", false
	}
	s, ok := render(c)
	if !ok || s == "" || !httpguts.ValidHeaderFieldValue(s) {
		return "", false
	}
	return s, true
}

// walk follows a dotted path through nested objects.
func walk(m map[string]any, path []string) (any, bool) {
	var cur any = m
	for _, p := range path {
		obj, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = obj[p]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// render formats a claim: scalars as text, arrays joined with ",", objects
// as compact JSON.
func render(c any) (string, bool) {
	switch x := c.(type) {
	case []any:
		parts := make([]string, 0, len(x))
		for _, e := range x {
			s, ok := scalar(e)
			if !ok {
				b, err := json.Marshal(e)
				if err != nil {
					return "", false
				}
				s = string(b)
			}
			parts = append(parts, s)
		}
		return strings.Join(parts, ","), true
	case map[string]any:
		b, err := json.Marshal(x)
		return string(b), err == nil
	}
	return scalar(c)
}

// scalar formats a JSON string, number or boolean.
func scalar(c any) (string, bool) {
	switch x := c.(type) {
	case string:
		return x, true
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true
	case json.Number:
		return x.String(), true
	case bool:
		return strconv.FormatBool(x), true
	}
	return "", false
}

// scopes reads "scope" (space-separated, RFC 8693 §4.2) or, without it,
// "scp" (an array, or a space-separated string).
func scopes(claims map[string]any) []string {
	if s, ok := claims["scope"].(string); ok {
		return strings.Fields(s)
	}
	switch x := claims["scp"].(type) {
	case string:
		return strings.Fields(x)
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			if s, ok := e.(string); ok && s != "" {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// ForwardedHeaders names every header ClaimsToHeaders may set upstream: the
// gateway removes client-sent values of all of them, so a token without
// the claim cannot let a forged header through.
func (v *Verifier) ForwardedHeaders() []string {
	out := make([]string, len(v.forward))
	for i, f := range v.forward {
		out[i] = f.header
	}
	return out
}
