package acme

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/bouncer-proxy/bouncer/internal/testsvc"
)

// TestChallenges obtains a certificate through each challenge type alone,
// answered by the test's own listeners, then adds and drops names with
// Update while the Manager keeps running.
func TestChallenges(t *testing.T) {
	for _, tc := range []struct {
		name         string
		disableHTTP  bool
		disableALPN  bool
		wantHTTPHits bool
	}{
		{name: "http-01", disableALPN: true, wantHTTPHits: true},
		{name: "tls-alpn-01", disableHTTP: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e, o := newEnv(t, testsvc.PebbleOptions{})
			o.DisableHTTP01, o.DisableTLSALPN01 = tc.disableHTTP, tc.disableALPN
			first, second := "one."+tc.name+".test", "two."+tc.name+".test"
			o.Names = []string{first}
			m := e.start(o)

			leaf := e.waitCert(first, 20*time.Second)
			if !slices.Contains(leaf.DNSNames, first) {
				t.Fatalf("leaf names %v, want %s", leaf.DNSNames, first)
			}
			if (e.httpHit.Load() > 0) != tc.wantHTTPHits || (e.alpnHit.Load() > 0) == tc.wantHTTPHits {
				t.Fatalf("challenges answered: http-01 %d, tls-alpn-01 %d", e.httpHit.Load(), e.alpnHit.Load())
			}
			waitFor(t, 5*time.Second, "expiry gauge", func() bool { return e.expiry(first) == float64(leaf.NotAfter.Unix()) })
			if got := e.events(eventObtained); got != 1 {
				t.Fatalf("obtained events = %v, want 1", got)
			}
			waitFor(t, 5*time.Second, "one order in Pebble's log", func() bool { return e.pebble.Orders() == 1 })
			e.checkRegistered("bouncer_tls_certificate_expiry_timestamp_seconds", "bouncer_tls_certificate_events_total")

			// a reload adds a name: obtained without a restart
			o.Names = []string{first, second}
			if err := m.Update(context.Background(), o); err != nil {
				t.Fatal(err)
			}
			e.waitCert(second, 20*time.Second)
			if again, err := e.handshake(first); err != nil || again.SerialNumber.Cmp(leaf.SerialNumber) != 0 {
				t.Fatalf("first name after update: %v (serial changed: %v)", err, again != nil)
			}

			// a reload drops a name: no longer covered nor served
			o.Names = []string{second}
			if err := m.Update(context.Background(), o); err != nil {
				t.Fatal(err)
			}
			if m.Covers(first) || !m.Covers(second) {
				t.Fatalf("Covers(%s)=%v Covers(%s)=%v after dropping the first", first, m.Covers(first), second, m.Covers(second))
			}
			if _, err := e.handshake(first); err == nil {
				t.Fatalf("handshake for dropped %s succeeded", first)
			}
		})
	}
}

// TestPrepareCommit: a prepared update is not in force until committed,
// and one that is dropped changes nothing; a bad one is refused at
// Prepare. Nothing here is started, so no CA is needed.
func TestPrepareCommit(t *testing.T) {
	o := Options{StorageDir: t.TempDir(), Names: []string{"a.test"}}
	m, err := New(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	o.Names = []string{"b.test"}
	p, err := m.Prepare(o)
	if err != nil {
		t.Fatal(err)
	}
	if !m.Covers("a.test") || m.Covers("b.test") {
		t.Fatal("a prepared update is in force before Commit")
	}
	if err := p.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	if m.Covers("a.test") || !m.Covers("b.test") {
		t.Fatal("Commit did not put the update in force")
	}
	o.Names = []string{"*.wild.test"} // wildcard without DNS-01
	if _, err := m.Prepare(o); err == nil {
		t.Fatal("Prepare accepted a wildcard name without a DNS provider")
	}
	if !m.Covers("b.test") {
		t.Fatal("a refused Prepare changed the names")
	}
	m.Close()
	if _, err := m.Prepare(Options{StorageDir: o.StorageDir}); err == nil {
		t.Fatal("Prepare on a closed manager succeeded")
	}
	if err := p.Commit(context.Background()); err == nil {
		t.Fatal("Commit on a closed manager succeeded")
	}
}

// TestServeHTTPChallengeOthers leaves requests that are not challenges,
// or challenges for tokens nobody presented, to the caller.
func TestServeHTTPChallengeOthers(t *testing.T) {
	m, err := New(context.Background(), Options{StorageDir: t.TempDir(), Names: []string{"a.test"}})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	for _, path := range []string{"/", "/index.html", "/.well-known/acme-challenge/unknown-token"} {
		rec := httptest.NewRecorder()
		if m.ServeHTTPChallenge(rec, httptest.NewRequest(http.MethodGet, "http://a.test"+path, nil)) {
			t.Fatalf("%s: handled (status %d), want it left to the caller", path, rec.Code)
		}
	}
}
