package acme

import (
	"testing"
	"time"

	"github.com/bouncer-proxy/bouncer/internal/testsvc"
)

// TestRenewal has Pebble issue 20-second certificates and renews them
// when 90 % of their lifetime is left (about 2 s after issuance), checking
// every 100 ms: a new certificate is served without a restart.
func TestRenewal(t *testing.T) {
	t.Parallel()
	e, o := newEnv(t, testsvc.PebbleOptions{CertValidity: 20 * time.Second})
	const name = "renew.test"
	o.Names = []string{name}
	o.DisableTLSALPN01 = true
	o.RenewalWindowRatio = 0.9
	o.RenewCheckInterval = 100 * time.Millisecond
	e.start(o)

	first := e.waitCert(name, 20*time.Second)
	if life := first.NotAfter.Sub(first.NotBefore); life > 21*time.Second {
		t.Fatalf("certificate lives %v, want about 20 s (Pebble's certificateValidityPeriod ignored?)", life)
	}
	var renewed float64
	waitFor(t, 20*time.Second, "renewed event", func() bool {
		renewed = e.events(eventRenewed)
		return renewed >= 1
	})
	waitFor(t, 10*time.Second, "a new certificate served", func() bool {
		leaf, err := e.handshake(name)
		return err == nil && leaf.SerialNumber.Cmp(first.SerialNumber) != 0 && leaf.NotAfter.After(first.NotAfter)
	})
	if got := e.expiry(name); got <= float64(first.NotAfter.Unix()) {
		t.Fatalf("expiry gauge %v not moved past the first certificate's %d", got, first.NotAfter.Unix())
	}
	if got := e.events(eventObtained); got != 1 {
		t.Fatalf("obtained events = %v, want 1 (renewals count apart)", got)
	}
}
