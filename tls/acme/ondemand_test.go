package acme

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/certmagic"

	"github.com/bouncer-proxy/bouncer/internal/testsvc"
)

// askServer answers 200 for names starting with "yes" and 403 for the
// rest, counting the questions per name.
type askServer struct {
	mu    sync.Mutex
	calls map[string]int
}

func (a *askServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("domain")
	a.mu.Lock()
	a.calls[name]++
	a.mu.Unlock()
	if !strings.HasPrefix(name, "yes") {
		w.WriteHeader(http.StatusForbidden)
	}
}

func (a *askServer) count(name string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.calls[name]
}

// TestOnDemand walks one Manager through allowed, refused, cached and
// rate-limited names, checking Pebble's order count at each step.
func TestOnDemand(t *testing.T) {
	t.Parallel()
	e, o := newEnv(t, testsvc.PebbleOptions{})
	ask := &askServer{calls: map[string]int{}}
	srv := httptest.NewServer(ask)
	t.Cleanup(srv.Close)
	o.OnDemand = &OnDemand{Allow: []string{"*.ok.test"}, Ask: srv.URL + "/check", RateLimit: 2, RateWindow: time.Hour}
	m := e.start(o)

	// an allowed name is issued during its first handshake
	leaf, err := e.handshake("yes1.ok.test")
	if err != nil {
		t.Fatalf("first handshake for an allowed name: %v", err)
	}
	waitFor(t, 5*time.Second, "one order", func() bool { return e.pebble.Orders() == 1 })
	if again, err := e.handshake("yes1.ok.test"); err != nil || again.SerialNumber.Cmp(leaf.SerialNumber) != 0 {
		t.Fatalf("second handshake: %v, want the cached certificate", err)
	}
	if !m.Covers("yes1.ok.test") || !m.Covers("anything.ok.test") || m.Covers("other.test") {
		t.Fatal("Covers does not follow the allow list")
	}

	checkRefusals(t, e, ask)

	// the rate limit: two issuances per hour, yes1 was the first
	if _, err := e.handshake("yes2.ok.test"); err != nil {
		t.Fatalf("second on-demand name: %v", err)
	}
	start := time.Now()
	if _, err := e.handshake("yes3.ok.test"); err == nil {
		t.Fatal("third on-demand name within the window was issued")
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("rate-limited refusal took %v", d)
	}
	if !strings.Contains(e.logs.String(), ErrRateLimited.Error()) {
		t.Fatal("rate-limited refusal not logged")
	}
	waitFor(t, 5*time.Second, "two orders", func() bool { return e.pebble.Orders() == 2 })
	// one more round trip, so that a stray order from the refusals would
	// have reached Pebble's log by now
	if _, err := e.handshake("yes1.ok.test"); err != nil {
		t.Fatal(err)
	}
	if n := e.pebble.Orders(); n != 2 {
		t.Fatalf("Pebble has %d orders, want 2: a refused name reached the CA", n)
	}
	if got := e.events(eventObtained); got != 2 {
		t.Fatalf("obtained events = %v, want 2", got)
	}
}

// checkRefusals: names outside the allow list or refused by the ask
// endpoint fail their handshakes fast, and a refusal is remembered.
func checkRefusals(t *testing.T, e *env, ask *askServer) {
	t.Helper()
	refused := []struct{ name, why string }{
		{"yes.other.test", "outside the allow list"},
		{"no1.ok.test", "ask answers 403"},
		{"no1.ok.test", "ask answered 403 before (negative cache)"},
	}
	for _, r := range refused {
		start := time.Now()
		if _, err := e.handshake(r.name); err == nil {
			t.Fatalf("%s (%s): handshake succeeded", r.name, r.why)
		}
		if d := time.Since(start); d > time.Second {
			t.Fatalf("%s (%s): refusal took %v", r.name, r.why, d)
		}
	}
	if n := ask.count("yes.other.test"); n != 0 {
		t.Fatalf("ask called %d times for a name outside the allow list", n)
	}
	if n := ask.count("no1.ok.test"); n != 1 {
		t.Fatalf("ask called %d times for two handshakes of a refused name, want 1", n)
	}
}

// TestNewValidates refuses options that cannot work, before any CA call.
func TestNewValidates(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    Options
		want string
	}{
		{"on-demand without allow or ask", Options{OnDemand: &OnDemand{}}, "needs allow or ask"},
		{"ask not a URL", Options{OnDemand: &OnDemand{Ask: "localhost:9000/ask"}}, "not an http(s) URL"},
		{"negative rate", Options{OnDemand: &OnDemand{Allow: []string{"a.test"}, RateLimit: -1}}, "negative"},
		{"bad allow pattern", Options{OnDemand: &OnDemand{Allow: []string{"a.*.test"}}}, "bad name"},
		{"wildcard without dns", Options{Names: []string{"*.a.test"}}, "needs DNS-01"},
		{"no challenge left", Options{Names: []string{"a.test"}, DisableHTTP01: true, DisableTLSALPN01: true}, "both disabled"},
		{"half an eab", Options{EAB: &EAB{KeyID: "kid"}}, "external account binding"},
		{"missing roots file", Options{CARootsFile: "/nonexistent/roots.pem"}, "ca roots"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.o.StorageDir = t.TempDir()
			m, err := New(context.Background(), tc.o)
			if err == nil {
				m.Close()
				t.Fatalf("New succeeded, want an error containing %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New: %v, want %q", err, tc.want)
			}
		})
	}
}

// TestGate checks the on-demand gate without a CA: name matching, the
// expiry of refusals, and the sliding rate window.
func TestGate(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	g, err := newGate(OnDemand{Allow: []string{"exact.test", "*.wild.test"}, RateLimit: 2, RateWindow: time.Minute, NegativeTTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	g.nowFunc = func() time.Time { return now }
	for name, want := range map[string]bool{
		"exact.test": true, "EXACT.test.": true, "a.wild.test": true, "*.wild.test": false,
		"wild.test": false, "a.b.wild.test": false, "other.test": false, "x.exact.test": false,
	} {
		if got := g.decide(context.Background(), name) == nil; got != want {
			t.Errorf("decide(%q) allowed=%v, want %v", name, got, want)
		}
	}
	if err := g.decide(context.Background(), "other.test"); !errors.Is(err, ErrNotAllowed) {
		t.Errorf("refusal %v is not ErrNotAllowed", err)
	}

	g.deny("gone.test")
	if !g.recentlyDenied("gone.test") {
		t.Fatal("refusal not remembered")
	}
	now = now.Add(2 * time.Minute)
	if g.recentlyDenied("gone.test") {
		t.Fatal("refusal remembered past its TTL")
	}

	for i, want := range []error{nil, nil, ErrRateLimited} {
		if err := g.take("n.test"); !errors.Is(err, want) {
			t.Fatalf("take #%d = %v, want %v", i+1, err, want)
		}
		now = now.Add(20 * time.Second)
	}
	now = now.Add(time.Minute) // the first two leave the window
	if err := g.take("n.test"); err != nil {
		t.Fatalf("take after the window slid: %v", err)
	}
}

// TestGateRefusesNonHostnames: only DNS host names reach the ask endpoint
// (or the CA). certmagic asks about the listener's own IP address when a
// client sends no SNI; wildcards and malformed names are no better.
func TestGateRefusesNonHostnames(t *testing.T) {
	ask := &askServer{calls: map[string]int{}}
	srv := httptest.NewServer(ask)
	t.Cleanup(srv.Close)
	g, err := newGate(OnDemand{Ask: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("a", 64) + ".test"
	for _, name := range []string{
		"127.0.0.1", "10.1.2.3", "::1", "fe80::1", "*.yes.test", "*", "yes..test", ".yes.test",
		"-yes.test", "yes-.test", "yes_1.test", "yes" + long, strings.Repeat("yes.", 64) + "test",
	} {
		if err := g.decide(context.Background(), name); !errors.Is(err, ErrNotAllowed) {
			t.Errorf("decide(%q) = %v, want ErrNotAllowed", name, err)
		}
		if n := ask.count(name); n != 0 {
			t.Errorf("ask endpoint asked %d times about %q", n, name)
		}
	}
	for _, name := range []string{"yes.test", "yes-1.Test.", "yes"} {
		if err := g.decide(context.Background(), name); err != nil {
			t.Errorf("decide(%q) = %v, want it allowed", name, err)
		}
	}
}

// TestOnDemandFailedOrderBacksOff: a name whose order failed is not
// ordered again for NegativeTTL, so it cannot use up the rate limit of
// every other name, while other names and cancelled attempts are not
// held back.
func TestOnDemandFailedOrderBacksOff(t *testing.T) {
	m, err := New(context.Background(), Options{
		StorageDir: t.TempDir(), Logger: slog.New(slog.DiscardHandler),
		OnDemand: &OnDemand{Allow: []string{"*.ok.test"}, RateLimit: 4, RateWindow: time.Hour, NegativeTTL: time.Minute},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	g := m.cur.Load().gate
	now := time.Unix(1_000_000, 0)
	g.nowFunc = func() time.Time { return now }
	event := m.onDemandEvent(g)
	ctx := context.Background()
	obtaining := func(name string) error {
		return event(ctx, "cert_obtaining", map[string]any{"identifier": name})
	}
	failed := func(name string, err error) {
		_ = event(ctx, "cert_failed", map[string]any{"identifier": name, "renewal": false, "error": err})
	}

	if err := obtaining("bad.ok.test"); err != nil {
		t.Fatalf("first order: %v", err)
	}
	failed("bad.ok.test", errors.New("the CA could not validate the name"))
	var noRetry certmagic.ErrNoRetry
	if err := obtaining("bad.ok.test"); !errors.As(err, &noRetry) || !errors.Is(err, ErrRateLimited) {
		t.Fatalf("order right after a failure: %v, want ErrNoRetry wrapping ErrRateLimited", err)
	}
	if err := obtaining("good.ok.test"); err != nil {
		t.Fatalf("another name: %v", err)
	}
	if err := obtaining("cut.ok.test"); err != nil {
		t.Fatal(err)
	}
	failed("cut.ok.test", context.Canceled) // a handshake that gave up: not the CA's failure
	now = now.Add(2 * time.Minute)
	if err := obtaining("bad.ok.test"); err != nil {
		t.Fatalf("order after the back-off: %v", err)
	}
	// four orders were placed (bad, good, cut, bad again): the refused
	// one took no share of the rate limit
	if err := obtaining("cut.ok.test"); !errors.Is(err, ErrRateLimited) {
		t.Fatalf("fifth order within the window: %v, want the rate limit", err)
	}
}

// TestAskCallsBounded: at most maxAsks calls to the ask endpoint run at
// once; a name that finds them all busy is refused without being
// remembered, and is asked about once one is free.
func TestAskCallsBounded(t *testing.T) {
	arrived, release := make(chan string, maxAsks+1), make(chan struct{})
	ask := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- r.URL.Query().Get("domain")
		<-release
	}))
	t.Cleanup(ask.Close)
	t.Cleanup(func() { close(release) })
	g, err := newGate(OnDemand{Ask: ask.URL, AskTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, maxAsks)
	for i := range maxAsks {
		go func() { done <- g.decide(context.Background(), fmt.Sprintf("n%d.test", i)) }()
	}
	for range maxAsks {
		select {
		case <-arrived:
		case <-time.After(10 * time.Second):
			t.Fatal("the ask calls did not all arrive")
		}
	}
	err = g.decide(context.Background(), "busy.test")
	if !errors.Is(err, ErrNotAllowed) || !strings.Contains(err.Error(), "in flight") {
		t.Fatalf("a name over the bound: %v, want a refusal for calls in flight", err)
	}
	if g.recentlyDenied("busy.test") {
		t.Fatal("a name refused for lack of a free call was remembered as denied")
	}
	select {
	case name := <-arrived:
		t.Fatalf("the ask endpoint was called for %s beyond the bound", name)
	default:
	}
}
