package policy

import (
	"errors"
	"net/http"
	"strings"

	"github.com/bouncer-proxy/bouncer/l7"
	"github.com/bouncer-proxy/bouncer/l7/policy/credauth"
	"github.com/bouncer-proxy/bouncer/tls/mtls"
)

// method is one authentication policy of a route.
type method struct {
	name, kind string
	auth       l7.Authenticator
}

// authStep authenticates a request with the first of a route's methods
// whose credential it carries. A bad credential is refused at once, even
// when another method could have passed: a client that sends a wrong token
// is told so rather than served as someone else. Without any credential,
// the route's anonymous consumer applies, or 401 with every method's
// challenge.
type authStep struct {
	methods   []method
	anonymous string // "": credentials required
	metrics   *Metrics
	owned     []string // headers the methods set upstream: client-sent values are always removed
}

// forwarder is an Authenticator that sets headers on the upstream request.
type forwarder interface{ ForwardedHeaders() []string }

func (a *authStep) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, m, err := a.authenticate(r)
		if err != nil {
			a.metrics.authFailed(m)
			a.refuse(w, r, err)
			return
		}
		info := l7.InfoFrom(r.Context())
		if info != nil {
			info.Identity = id
		}
		for _, k := range a.owned {
			delete(r.Header, k)
		}
		for k, v := range id.Forward {
			r.Header[k] = v
		}
		next.ServeHTTP(w, r)
	})
}

func (a *authStep) authenticate(r *http.Request) (*l7.Identity, string, error) {
	for _, m := range a.methods {
		id, err := m.auth.Authenticate(r)
		switch {
		case err == nil:
			return id, m.kind, nil
		case errors.Is(err, l7.ErrNoCredentials):
			continue
		default:
			return nil, m.kind, err
		}
	}
	if a.anonymous != "" {
		return &l7.Identity{Method: "anonymous", Consumer: a.anonymous}, "", nil
	}
	return nil, "none", l7.ErrNoCredentials
}

// refuse renders an authentication failure: the method's own error, or
// for missing credentials a 401 that challenges with every method.
func (a *authStep) refuse(w http.ResponseWriter, r *http.Request, err error) {
	var ae *l7.AuthError
	var denied *credauth.Denied
	switch {
	case errors.As(err, &denied):
		denied.Render(w, r)
	case errors.As(err, &ae):
		l7.WriteAuthError(w, r, ae)
	default:
		for _, m := range a.methods {
			if c := challenge(m); c != "" {
				w.Header().Add("WWW-Authenticate", c)
			}
		}
		l7.WriteError(w, r, l7.Errorf(http.StatusUnauthorized, l7.CodeUnauthenticated, "credentials required (%s)", a.kinds()))
	}
}

func (a *authStep) kinds() string {
	var b strings.Builder
	for i, m := range a.methods {
		if i > 0 {
			b.WriteString(" or ")
		}
		b.WriteString(m.kind)
	}
	return b.String()
}

// challenge is the WWW-Authenticate value a method offers to a request
// without credentials.
func challenge(m method) string {
	switch m.kind {
	case "jwt", "introspection":
		return `Bearer realm="bouncer"`
	case "basic_auth":
		if c, ok := m.auth.(interface{ Challenge() string }); ok {
			return c.Challenge()
		}
		return `Basic realm="bouncer"`
	case "api_key":
		return `ApiKey realm="bouncer"`
	}
	return ""
}

// mtlsAuth makes an identity of the connection's verified client
// certificate, mapped to a configured consumer.
type mtlsAuth struct {
	bySPIFFE, bySubject, bySHA map[string]consumer
	unlisted                   bool
}

type consumer struct {
	name     string
	metadata map[string]string
}

func (m *mtlsAuth) Authenticate(r *http.Request) (*l7.Identity, error) {
	info := l7.InfoFrom(r.Context())
	if info == nil || info.ClientCert == nil || !mtls.Verified(r.TLS) {
		return nil, l7.ErrNoCredentials
	}
	c := info.ClientCert
	var found *consumer
	for _, lookup := range []struct {
		m map[string]consumer
		k string
	}{{m.bySPIFFE, c.SPIFFEID}, {m.bySubject, c.Subject}, {m.bySHA, c.FingerprintSHA256}} {
		if v, ok := lookup.m[lookup.k]; ok && lookup.k != "" {
			found = &v
			break
		}
	}
	if found == nil {
		if !m.unlisted {
			return nil, &l7.AuthError{Status: http.StatusForbidden, Scheme: "mTLS", Reason: "client certificate not allowed"}
		}
		name := c.SPIFFEID
		if name == "" {
			name = c.Subject
		}
		found = &consumer{name: name}
	}
	return &l7.Identity{Method: "mtls", Consumer: found.name, Subject: c.Subject, Metadata: found.metadata}, nil
}
