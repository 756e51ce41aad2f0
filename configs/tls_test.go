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
