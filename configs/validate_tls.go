package configs

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"net"
	"net/url"
	"os"
	"reflect"
	"strings"
	"time"
)

// listenerTLS checks that a TLS listener has a source of certificates and
// that each file it names loads.
func (v *validator) listenerTLS(p string, t *ListenerTLS) {
	if (t.CertFile == "") != (t.KeyFile == "") {
		v.sink.addf(p, "cert_file and key_file go together")
		return
	}
	if t.CertFile == "" && len(t.Certificates) == 0 && t.ACME == nil && t.LocalCA == nil {
		v.sink.addf(p, "a TLS listener needs certificates: cert_file and key_file, certificates, acme or local_ca")
		return
	}
	first := 0 // index in Pairs of certificates[0]
	if t.CertFile != "" {
		first = 1
	}
	for i, c := range t.Pairs() {
		key := p + ".cert_file"
		if i >= first {
			key = fmt.Sprintf("%s.certificates[%d]", p, i-first)
		}
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		switch {
		case err != nil:
			v.sink.addf(key, "cannot load certificate: %v", err)
		case i > 0 && len(cert.Leaf.DNSNames) == 0:
			v.sink.addf(key, "%s names no DNS name (subjectAltName), so SNI can never select it; only the first certificate, the default, may", c.CertFile)
		}
	}
	if t.WatchInterval < 0 {
		v.sink.addf(p+".watch_interval", "must not be negative")
	}
	if t.ACME != nil {
		v.tlsACME(p+".acme", t.ACME)
	}
	if t.LocalCA != nil {
		v.localCA(p+".local_ca", t.LocalCA)
	}
	if h := t.HSTS; h != nil {
		if h.MaxAge < 0 {
			v.sink.addf(p+".hsts.max_age", "must not be negative")
		}
		if h.Preload && (h.MaxAge.D() < 365*24*time.Hour || !h.IncludeSubdomains) {
			v.sink.addf(p+".hsts.preload", "preload lists require max_age of at least a year (8760h) and include_subdomains")
		}
	}
	if ca := t.ClientAuth; ca != nil {
		for i, f := range ca.CAFiles {
			if err := pemCerts(f); err != nil {
				v.sink.addf(fmt.Sprintf("%s.client_auth.ca_files[%d]", p, i), "%v", err)
			}
		}
		if len(ca.CAFiles) == 0 {
			v.sink.addf(p+".client_auth.ca_files", "at least one CA bundle is needed to verify client certificates")
		}
	}
}

// pemCerts checks that file holds at least one PEM certificate.
func pemCerts(file string) error {
	b, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("cannot load certificates: %w", err)
	}
	if !x509.NewCertPool().AppendCertsFromPEM(b) {
		return fmt.Errorf("%s holds no PEM certificate", file)
	}
	return nil
}

func (v *validator) tlsACME(p string, a *TLSACME) {
	if len(a.Names) == 0 && a.OnDemand == nil {
		v.sink.addf(p, "lists no names and has no on_demand: it would never obtain a certificate")
	}
	for i, n := range a.Names {
		if err := certName(n, true); err != nil {
			v.sink.addf(fmt.Sprintf("%s.names[%d]", p, i), "%v", err)
		} else if strings.HasPrefix(n, "*.") && v.c.ACME.DNS == nil {
			v.sink.addf(fmt.Sprintf("%s.names[%d]", p, i), "%q is a wildcard: only DNS-01 can prove it; set acme.dns", n)
		}
	}
	od := a.OnDemand
	if od == nil {
		return
	}
	if len(od.Allow) == 0 && od.Ask == "" {
		// certmagic alone would issue for any name a client sends.
		v.sink.addf(p+".on_demand", "needs allow or ask: without one, any name a client sends would get a certificate")
	}
	for i, n := range od.Allow {
		if err := certName(n, true); err != nil {
			v.sink.addf(fmt.Sprintf("%s.on_demand.allow[%d]", p, i), "%v", err)
		}
	}
	if od.Ask != "" {
		if u, err := url.Parse(od.Ask); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			v.sink.addf(p+".on_demand.ask", "%q is not an http(s) URL", od.Ask)
		}
	}
	if od.AskTimeout <= 0 {
		v.sink.addf(p+".on_demand.ask_timeout", "must be positive")
	}
	if od.RateLimit < 0 {
		v.sink.addf(p+".on_demand.rate_limit", "must not be negative")
	}
	if od.RateLimit > 0 && od.RateWindow <= 0 {
		v.sink.addf(p+".on_demand.rate_window", "must be positive")
	}
}

func (v *validator) localCA(p string, l *LocalCA) {
	if len(l.Names) == 0 {
		v.sink.addf(p+".names", "at least one name is needed")
	}
	for i, n := range l.Names {
		if net.ParseIP(n) != nil {
			continue
		}
		if err := certName(n, true); err != nil {
			v.sink.addf(fmt.Sprintf("%s.names[%d]", p, i), "%v", err)
		}
	}
	if l.Lifetime.D() < time.Hour {
		v.sink.addf(p+".lifetime", "must be at least 1h")
	}
}

// certName checks a DNS name a certificate may carry: letters, digits and
// hyphens in labels, and a leading *. when wildcard is allowed.
func certName(n string, wildcard bool) error {
	name := n
	if wildcard {
		name = strings.TrimPrefix(n, "*.")
	}
	if name == "" || len(name) > 253 || strings.HasSuffix(name, ".") {
		return fmt.Errorf("%q is not a DNS name", n)
	}
	for _, label := range strings.Split(name, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return fmt.Errorf("%q is not a DNS name", n)
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c >= 'A' && c <= 'Z') {
				return fmt.Errorf("%q is not a DNS name (character %q)", n, c)
			}
		}
	}
	return nil
}

// acme checks the ACME account settings, and that listeners with
// on_demand agree (one certificate manager serves the process).
func (v *validator) acme() {
	var first *OnDemand
	for i, l := range v.c.Listeners {
		if l.TLS == nil || l.TLS.ACME == nil || l.TLS.ACME.OnDemand == nil {
			continue
		}
		if first == nil {
			first = l.TLS.ACME.OnDemand
		} else if !reflect.DeepEqual(first, l.TLS.ACME.OnDemand) {
			v.sink.addf(fmt.Sprintf("listeners[%d].tls.acme.on_demand", i), "differs from an earlier listener's: on-demand issuance has one policy per process, so give every listener the same")
		}
	}
	a := v.c.ACME
	if u, err := url.Parse(a.CA); err != nil || u.Scheme != "https" || u.Host == "" {
		v.sink.addf("acme.ca", "%q is not an https URL of an ACME directory", a.CA)
	}
	if a.CARoots != "" {
		if err := pemCerts(a.CARoots); err != nil {
			v.sink.addf("acme.ca_roots", "%v", err)
		}
	}
	if len(a.Challenges) == 0 {
		v.sink.addf("acme.challenges", "at least one challenge type is needed")
	}
	for _, k := range []struct {
		key  string
		port int
	}{{"acme.http_port", a.HTTPPort}, {"acme.tls_port", a.TLSPort}} {
		if k.port < 1 || k.port > 65535 {
			v.sink.addf(k.key, "must be a port number (1 to 65535)")
		}
	}
	if d := a.DNS; d != nil {
		if r := d.RFC2136; r != nil {
			v.hostPort("acme.dns.rfc2136.server", r.Server)
			if _, err := base64.StdEncoding.DecodeString(r.KeySecret); err != nil || r.KeySecret == "" {
				v.sink.addf("acme.dns.rfc2136.key_secret", "is not base64")
			}
		}
		for i, r := range d.Resolvers {
			v.hostPort(fmt.Sprintf("acme.dns.resolvers[%d]", i), r)
		}
	}
	if r := a.Storage.Redis; r != nil {
		v.hostPort("acme.storage.redis.address", r.Address)
		v.nonNegative("acme.storage.redis.db", r.DB)
		if r.LockTTL.D() < time.Second {
			v.sink.addf("acme.storage.redis.lock_ttl", "must be at least 1s")
		}
	}
}
