package acme

import (
	"strings"
	"testing"
	"time"

	"github.com/bouncer-proxy/bouncer/internal/testsvc"
)

// TestEAB runs against a Pebble that requires external account binding:
// the configured key gets a certificate, a missing or wrong one a clear
// failure (event, metric and log) and no certificate.
func TestEAB(t *testing.T) {
	const kid, key = "bouncer-kid", "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W"
	for _, tc := range []struct {
		name    string
		eab     *EAB
		wantErr string // in the failure log; empty: success
	}{
		{name: "right key", eab: &EAB{KeyID: kid, MACKey: key}},
		{name: "no binding", wantErr: "externalAccountRequired"},
		{name: "unknown key id", eab: &EAB{KeyID: "someone-else", MACKey: key}, wantErr: "references a key that is not known"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e, o := newEnv(t, testsvc.PebbleOptions{EAB: map[string]string{kid: key}})
			name := "eab-" + strings.ReplaceAll(tc.name, " ", "-") + ".test"
			o.Names, o.EAB, o.DisableTLSALPN01 = []string{name}, tc.eab, true
			e.start(o)
			if tc.wantErr == "" {
				e.waitCert(name, 20*time.Second)
				return
			}
			waitFor(t, 20*time.Second, "failed event", func() bool { return e.events(eventFailed) >= 1 })
			if log := e.logs.String(); !strings.Contains(log, "acme: certificate could not be obtained") ||
				!strings.Contains(log, tc.wantErr) {
				t.Fatalf("failure log does not mention %q:\n%s", tc.wantErr, log)
			}
			if _, err := e.handshake(name); err == nil {
				t.Fatal("handshake succeeded without a valid binding")
			}
			if n := e.pebble.Orders(); n != 0 {
				t.Fatalf("Pebble created %d orders for an unbound account", n)
			}
		})
	}
}
