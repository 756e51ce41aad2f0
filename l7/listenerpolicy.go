package l7

import (
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"

	"github.com/bouncer-proxy/bouncer/configs"
	"github.com/bouncer-proxy/bouncer/tls/mtls"
)

// ListenerPolicy is what a listener does to every request before (or
// instead of) routing. Immutable once built.
type ListenerPolicy struct {
	SNIHostCheck bool     // on TLS: Host must be the SNI name, or 421
	HSTS         []string // Strict-Transport-Security value set on every response (nil: none); shared, never modified

	// RedirectStatus, when not 0, answers every request with a redirect to
	// https on RedirectPort (ACME HTTP-01 challenges excepted).
	RedirectStatus int
	RedirectPort   int

	// ClientAuth: the listener asks for client certificates, and a
	// verified one's identity goes to Info.ClientCert for policies.
	ClientAuth bool
	// ClientCertHeader is removed from every request, and so is
	// X-Forwarded-Client-Cert: clients never speak for a certificate.
	// With ClientCertFields, ClientCertHeader then carries the
	// verified client certificate's identity upstream (XFCC format).
	ClientCertHeader string
	ClientCertFields []string
}

// ListenerPolicies compiles the per-listener policies of cfg, by listener
// name.
func ListenerPolicies(cfg *configs.Config) map[string]*ListenerPolicy {
	out := make(map[string]*ListenerPolicy, len(cfg.Listeners))
	for _, l := range cfg.Listeners {
		p := &ListenerPolicy{ClientCertHeader: mtls.HeaderXFCC}
		if t := l.TLS; t != nil {
			p.SNIHostCheck = t.SNIHostCheck
			if t.HSTS != nil {
				p.HSTS = []string{hstsValue(t.HSTS)}
			}
			if ca := t.ClientAuth; ca != nil {
				p.ClientAuth = true
				if ca.ForwardHeader != "" {
					p.ClientCertHeader = http.CanonicalHeaderKey(ca.ForwardHeader)
					p.ClientCertFields = ca.ForwardFields
				}
			}
		}
		if r := l.Redirect; r != nil {
			p.RedirectStatus, p.RedirectPort = r.Status, r.Port
		}
		out[l.Name] = p
	}
	return out
}

func hstsValue(h *configs.HSTS) string {
	v := "max-age=" + strconv.FormatInt(int64(h.MaxAge.D().Seconds()), 10)
	if h.IncludeSubdomains {
		v += "; includeSubDomains"
	}
	if h.Preload {
		v += "; preload"
	}
	return v
}

// clientIdentity notes the verified client certificate's identity, if
// any, in info, and sets the client-cert header of r to it when the
// listener forwards it.
func (p *ListenerPolicy) clientIdentity(r *http.Request, info *Info) {
	cc, _ := r.Context().Value(connCertKey{}).(*connCert)
	if cc == nil { // a connection served without the servers' ConnContext
		cc = &connCert{}
	}
	id, ok := cc.identity(r.TLS)
	if !ok {
		return
	}
	info.ClientCert = id
	if len(p.ClientCertFields) > 0 {
		r.Header[p.ClientCertHeader] = []string{cc.header(p)}
	}
}

// acmeChallengePrefix is the path of ACME HTTP-01 challenges (RFC 8555
// section 8.3).
const acmeChallengePrefix = "/.well-known/acme-challenge/"

// redirectHTTPS answers r with a redirect to the same URL over https.
func (p *ListenerPolicy) redirectHTTPS(w http.ResponseWriter, r *http.Request) {
	host := hostOnly(r.Host)
	if host == "" {
		WriteError(w, r, Errorf(http.StatusBadRequest, CodeBadRequest, "a request without a Host cannot be redirected to https"))
		return
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if p.RedirectPort != 443 {
		host = net.JoinHostPort(strings.Trim(host, "[]"), strconv.Itoa(p.RedirectPort))
	}
	target := "https://" + host + r.URL.RequestURI()
	w.Header().Set("Location", target)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(p.RedirectStatus)
	if r.Method != http.MethodHead {
		fmt.Fprintf(w, "moved to %s\n", target)
	}
}
