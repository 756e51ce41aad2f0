package authz

import (
	"net/http"
	"strings"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
	"cel.dev/cel-go/interpreter"

	"github.com/bouncer-proxy/bouncer/l7"
)

// Request is the CEL variable `request`. Headers and Query are filled only
// when an expression of the route reads them.
type Request struct {
	Method string `cel:"method"`
	Path   string `cel:"path"`
	// Host is the Host header as sent, port included when there is one.
	Host string `cel:"host"`
	// Headers maps lowercase names to their first value.
	Headers map[string]string `cel:"headers"`
	// Query maps parameter names to their first value.
	Query map[string]string `cel:"query"`
	// ClientIP is the client address after trusted proxies, "" unknown.
	ClientIP string `cel:"client_ip"`
}

// Identity is the CEL variable `identity`: l7.Identity plus the verified
// client certificate of the connection. On an anonymous request its
// strings are empty and its lists and maps have no entries.
type Identity struct {
	Method   string            `cel:"method"`
	Consumer string            `cel:"consumer"`
	Subject  string            `cel:"subject"`
	Claims   Claims            `cel:"claims"`
	Scopes   []string          `cel:"scopes"`
	Metadata map[string]string `cel:"metadata"`
	// ClientCert is empty (all fields "") without a client certificate.
	ClientCert ClientCert `cel:"client_cert"`
}

// ClientCert is `identity.client_cert`.
type ClientCert struct {
	Subject string `cel:"subject"`
	// SANs are the URI, DNS, email and IP SANs, in that order.
	SANs   []string `cel:"sans"`
	SPIFFE string   `cel:"spiffe"`
	SHA256 string   `cel:"sha256"` // lowercase hex of the leaf's DER
}

// Claims is `identity.claims`, a map(string, dyn) in CEL. Go's `any` has
// no CEL type, so the native type provider would drop a map[string]any
// field; this wrapper is a CEL map value itself and names its type.
type Claims struct {
	traits.Mapper
}

// newClaims wraps decoded token claims without copying them.
func newClaims(m map[string]any) Claims {
	return Claims{types.DefaultTypeAdapter.NativeToValue(m).(traits.Mapper)}
}

// noClaims stands for an identity without claims: an empty map, so
// `"x" in identity.claims` is false rather than an error.
var noClaims = newClaims(map[string]any{})

// claimsType is map(string, dyn).
var claimsType = types.NewMapType(types.StringType, types.DynType)

// Type gives the CEL type; it is defined here, not promoted, because the
// native type provider calls it on the zero value to learn the field type.
func (Claims) Type() ref.Type { return claimsType }

// needs records which costly parts of `request` some expression reads.
type needs struct {
	headers, query bool
}

// activation resolves the two variables for one Check, building each on
// first use. It is used by one goroutine.
type activation struct {
	r     *http.Request
	info  *l7.Info
	needs needs
	req   *Request
	ident *Identity
}

// ResolveName implements interpreter.Activation.
func (a *activation) ResolveName(name string) (any, bool) {
	switch name {
	case "request":
		if a.req == nil {
			a.req = buildRequest(a.r, a.info, a.needs)
		}
		return a.req, true
	case "identity":
		if a.ident == nil {
			a.ident = buildIdentity(a.info)
		}
		return a.ident, true
	}
	return nil, false
}

// Parent implements interpreter.Activation: there is none.
func (a *activation) Parent() interpreter.Activation { return nil }

func buildRequest(r *http.Request, info *l7.Info, n needs) *Request {
	req := &Request{Method: r.Method, Path: r.URL.Path, Host: r.Host}
	if info != nil && info.Client.IsValid() {
		req.ClientIP = info.Client.String()
	}
	if n.headers {
		req.Headers = make(map[string]string, len(r.Header))
		for k, v := range r.Header {
			if len(v) > 0 {
				req.Headers[strings.ToLower(k)] = v[0]
			}
		}
	}
	if n.query {
		q := r.URL.Query()
		req.Query = make(map[string]string, len(q))
		for k, v := range q {
			req.Query[k] = v[0]
		}
	}
	return req
}

func buildIdentity(info *l7.Info) *Identity {
	id := &Identity{Claims: noClaims}
	if info == nil {
		return id
	}
	if in := info.Identity; in != nil {
		id.Method, id.Consumer, id.Subject = in.Method, in.Consumer, in.Subject
		id.Scopes, id.Metadata = in.Scopes, in.Metadata
		if in.Claims != nil {
			id.Claims = newClaims(in.Claims)
		}
	}
	if c := info.ClientCert; c != nil {
		sans := make([]string, 0, len(c.URIs)+len(c.DNSNames)+len(c.Emails)+len(c.IPs))
		sans = append(append(append(append(sans, c.URIs...), c.DNSNames...), c.Emails...), c.IPs...)
		id.ClientCert = ClientCert{Subject: c.Subject, SANs: sans, SPIFFE: c.SPIFFEID, SHA256: c.FingerprintSHA256}
	}
	return id
}
