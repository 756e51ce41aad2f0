package configs

import (
	"fmt"
	"strings"
	"testing"

	"github.com/bouncer-proxy/bouncer/tls/certstest"
)

// A TLS listener's certificates are loaded by Validate; each problem names
// the certificate's key and line.
func TestListenerTLSCertificates(t *testing.T) {
	ca, dir := certstest.NewCA(t), t.TempDir()
	named := ca.Leaf(t, dir, "named", "ecdsa", "named", "a.test")
	bare := ca.Leaf(t, dir, "bare", "ecdsa", "bare")
	mk := func(tlsBlock string) string {
		return fmt.Sprintf("admin: {address: \"off\"}\nlisteners:\n  - name: s\n    address: 127.0.0.1:0\n    protocols: [h2]\n    tls:\n%s\nroutes:\n  - respond: {status: 200}\n", tlsBlock)
	}
	item := func(f certstest.Files) string {
		return fmt.Sprintf("        - {cert_file: %q, key_file: %q}\n", f.CertFile, f.KeyFile)
	}
	for _, c := range []struct {
		name, block, want string
	}{
		{"a bare default is fine", "      certificates:\n" + item(bare) + item(named), ""},
		{"a bare later certificate", "      certificates:\n" + item(named) + item(bare), "test.yaml:9: listeners[0].tls.certificates[1]: "},
		{"cert_file then a bare certificate", fmt.Sprintf("      cert_file: %q\n      key_file: %q\n      certificates:\n", named.CertFile, named.KeyFile) + item(bare), "listeners[0].tls.certificates[0]: "},
		{"key of another certificate", fmt.Sprintf("      cert_file: %q\n      key_file: %q\n", named.CertFile, bare.KeyFile), "listeners[0].tls.cert_file: cannot load certificate"},
	} {
		_, err := Parse([]byte(mk(c.block)), "test.yaml")
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: %v, want an error containing %q", c.name, err, c.want)
		}
	}
}

// Automatic certificates, the local CA, HSTS, mTLS, HTTP/3 and the HTTPS
// redirect are checked at load time; each problem names its key and line.
func TestListenerTLSFeatures(t *testing.T) {
	ca, dir := certstest.NewCA(t), t.TempDir()
	leaf := ca.Leaf(t, dir, "leaf", "ecdsa", "leaf", "a.test")
	mk := func(tlsBlock, extra string) string {
		return fmt.Sprintf("admin: {address: \"off\"}\nlisteners:\n  - name: s\n    address: 127.0.0.1:0\n    protocols: [h2, h3]\n    tls:\n%s\n%sroutes:\n  - respond: {status: 200}\n", tlsBlock, extra)
	}
	for _, c := range []struct {
		name, block, extra, want string
	}{
		{"acme names", "      acme: {names: [a.example.com]}", "", ""},
		{"acme without names or on_demand", "      acme: {}", "", "listeners[0].tls.acme: lists no names and has no on_demand"},
		{"acme bad name", "      acme: {names: [\"a b.example\"]}", "", "listeners[0].tls.acme.names[0]: \"a b.example\" is not a DNS name"},
		{"acme wildcard", "      acme: {names: [\"*.example.com\"]}", "", "only DNS-01 can prove it; set acme.dns"},
		{"acme wildcard with dns", "      acme: {names: [\"*.example.com\"]}", "acme: {dns: {rfc2136: {server: \"127.0.0.1:53\", key_name: k, key_secret: c2VjcmV0}}}\n", ""},
		{"acme dns bad secret", "      acme: {names: [a.test]}", "acme: {dns: {rfc2136: {server: \"127.0.0.1:53\", key_name: k, key_secret: \"not base64!\"}}}\n", "acme.dns.rfc2136.key_secret: is not base64"},
		{"on_demand without a decision", "      acme: {on_demand: {ask_timeout: 1s}}", "", "test.yaml:7: listeners[0].tls.acme.on_demand: needs allow or ask"},
		{"on_demand allow", "      acme: {on_demand: {allow: [\"*.shops.test\"]}}", "", ""},
		{"on_demand bad ask", "      acme: {on_demand: {ask: \"ftp://x\"}}", "", "listeners[0].tls.acme.on_demand.ask: \"ftp://x\" is not an http(s) URL"},
		{"local ca", "      local_ca: {names: [localhost, \"::1\"]}", "", ""},
		{"local ca short lifetime", "      local_ca: {lifetime: 1m}", "", "listeners[0].tls.local_ca.lifetime: must be at least 1h"},
		{"hsts preload needs a year", "      local_ca: {}\n      hsts: {max_age: 24h, preload: true, include_subdomains: true}", "", "listeners[0].tls.hsts.preload: preload lists require"},
		{"client auth", fmt.Sprintf("      local_ca: {}\n      client_auth: {ca_files: [%q]}", leaf.CertFile), "", ""},
		{"client auth bad bundle", fmt.Sprintf("      local_ca: {}\n      client_auth: {ca_files: [%q]}", leaf.KeyFile), "", "listeners[0].tls.client_auth.ca_files[0]: " + leaf.KeyFile + " holds no PEM certificate"},
		{"client auth missing bundle", "      local_ca: {}\n      client_auth: {ca_files: [/nonexistent.pem]}", "", "listeners[0].tls.client_auth.ca_files[0]: cannot load certificates"},
		{"redirect on tls", "      local_ca: {}\n    redirect_https: {}", "", "listeners[0].redirect_https: is for a plain HTTP listener"},
		{"acme bad ca", "      acme: {names: [a.test]}", "acme: {ca: \"http://ca.test/dir\"}\n", "acme.ca: \"http://ca.test/dir\" is not an https URL"},
		{"acme redis", "      acme: {names: [a.test]}", "acme: {storage: {redis: {address: nowhere, lock_ttl: 10ms}}}\n", "acme.storage.redis.address: \"nowhere\" is not host:port"},
	} {
		_, err := Parse([]byte(mk(c.block, c.extra)), "test.yaml")
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: %v, want an error containing %q", c.name, err, c.want)
		}
	}
}

// A route that requires a client certificate must only be served on
// listeners that ask for one.
func TestClientCertRoute(t *testing.T) {
	bundle := certstest.NewCA(t).Leaf(t, t.TempDir(), "ca", "ecdsa", "ca").CertFile
	src := fmt.Sprintf(`admin: {address: "off"}
listeners:
  - {name: plain, address: 127.0.0.1:0}
  - name: mtls
    address: 127.0.0.1:0
    protocols: [h2]
    tls: {local_ca: {}, client_auth: {mode: optional, ca_files: [%q]}}
routes:
  - {name: ok, listeners: [mtls], client_cert: required, respond: {status: 200}}
  - {name: everywhere, client_cert: required, match: {prefix: /x}, respond: {status: 200}}
`, bundle)
	_, err := Parse([]byte(src), "test.yaml")
	if err == nil || !strings.Contains(err.Error(), `routes[1].client_cert: is required, but the route is served on listener "plain"`) {
		t.Fatalf("err = %v", err)
	}
	if strings.Contains(err.Error(), "routes[0]") {
		t.Errorf("route on the mTLS listener only was refused: %v", err)
	}
}

// On-demand issuance has one policy per process: listeners must agree.
func TestOnDemandPoliciesAgree(t *testing.T) {
	src := `admin: {address: "off"}
listeners:
  - {name: a, address: 127.0.0.1:0, protocols: [h2], tls: {acme: {on_demand: {allow: [a.test]}}}}
  - {name: b, address: 127.0.0.1:0, protocols: [h2], tls: {acme: {on_demand: {allow: [a.test]}}}}
  - {name: c, address: 127.0.0.1:0, protocols: [h2], tls: {acme: {on_demand: {allow: [c.test]}}}}
routes:
  - respond: {status: 200}
`
	_, err := Parse([]byte(src), "test.yaml")
	if err == nil || !strings.Contains(err.Error(), "test.yaml:5: listeners[2].tls.acme.on_demand: differs from an earlier listener's") {
		t.Fatalf("err = %v", err)
	}
	if strings.Contains(err.Error(), "listeners[1]") {
		t.Errorf("an identical policy was refused: %v", err)
	}
}

// A TLS listener that lists no protocols serves http1 and h2 (the plain
// default's h2c is not allowed with TLS); listed protocols stay as they are.
func TestTLSListenerDefaultProtocols(t *testing.T) {
	cfg, err := Parse([]byte(`admin: {address: "off"}
listeners:
  - {name: tls, address: "127.0.0.1:0", tls: {local_ca: {}}}
  - {name: listed, address: "127.0.0.1:0", protocols: [http1], tls: {local_ca: {}}}
  - {name: plain, address: "127.0.0.1:0"}
routes:
  - respond: {status: 200}
`), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{"http1,h2", "http1", "http1,h2c"} {
		if got := strings.Join(cfg.Listeners[i].Protocols, ","); got != want {
			t.Errorf("listener %s: protocols %s, want %s", cfg.Listeners[i].Name, got, want)
		}
	}
}
