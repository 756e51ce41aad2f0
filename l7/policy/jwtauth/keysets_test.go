package jwtauth

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"
)

// hourly are options whose background refresh never runs during a test.
func hourly(url string) Options {
	return Options{JWKSURL: url, RefreshInterval: time.Hour, MinRefreshInterval: time.Hour}
}

func TestUnknownKIDRefreshesOnce(t *testing.T) {
	srv := newJWKSServer(t, publicJWKs()...)
	v := newVerifier(t, hourly(srv.URL), newKeySets(t))
	f := keys()
	if _, err := v.Authenticate(bearer(sign(t, jwt.SigningMethodES256, f.p256, "p256", claims(nil)))); err != nil {
		t.Fatalf("known key: %v", err)
	}
	if n := srv.fetches.Load(); n != 1 {
		t.Fatalf("%d fetches after the first request, want 1", n)
	}
	stranger := bearer(sign(t, jwt.SigningMethodES256, f.stranger, "stranger", claims(nil)))
	_, err := v.Authenticate(stranger)
	wantAuthError(t, err, "invalid_token", "unknown key id")
	if n := srv.fetches.Load(); n != 2 {
		t.Fatalf("%d fetches after an unknown kid, want 2", n)
	}
	for range 3 {
		_, err = v.Authenticate(stranger)
		wantAuthError(t, err, "invalid_token", "unknown key id")
	}
	if n := srv.fetches.Load(); n != 2 {
		t.Fatalf("%d fetches after more unknown kids within the minimum interval, want 2", n)
	}
}

func TestKeyRotation(t *testing.T) {
	f := keys()
	srv := newJWKSServer(t, jwk(f.rsa.Public(), "old", "RS256"))
	v := newVerifier(t, hourly(srv.URL), newKeySets(t))
	if _, err := v.Authenticate(bearer(sign(t, jwt.SigningMethodRS256, f.rsa, "old", claims(nil)))); err != nil {
		t.Fatalf("old key: %v", err)
	}
	srv.set(t, jwk(f.rsa.Public(), "old", "RS256"), jwk(f.ed.Public(), "new", "EdDSA"))
	if _, err := v.Authenticate(bearer(sign(t, jwt.SigningMethodEdDSA, f.ed, "new", claims(nil)))); err != nil {
		t.Fatalf("rotated key: %v", err)
	}
	if n := srv.fetches.Load(); n != 2 {
		t.Fatalf("%d fetches, want 2", n)
	}
}

func TestConcurrentUnknownKIDOneFetch(t *testing.T) {
	f := keys()
	srv := newJWKSServer(t, jwk(f.rsa.Public(), "old", ""))
	v := newVerifier(t, hourly(srv.URL), newKeySets(t))
	if _, err := v.Authenticate(bearer(sign(t, jwt.SigningMethodRS256, f.rsa, "old", claims(nil)))); err != nil {
		t.Fatal(err)
	}
	srv.set(t, jwk(f.p256.Public(), "new", ""))
	tok := sign(t, jwt.SigningMethodES256, f.p256, "new", claims(nil))
	errs := make(chan error, 8)
	for range cap(errs) {
		go func() {
			_, err := v.Authenticate(bearer(tok))
			errs <- err
		}()
	}
	for range cap(errs) {
		if err := <-errs; err != nil {
			t.Errorf("concurrent request: %v", err)
		}
	}
	if n := srv.fetches.Load(); n != 2 {
		t.Fatalf("%d fetches for 8 concurrent requests with a new kid, want 2", n)
	}
}

func TestJWKSDownAtStart(t *testing.T) {
	srv := newJWKSServer(t, publicJWKs()...)
	srv.status.Store(http.StatusServiceUnavailable)
	ks := newKeySets(t)
	clock := newFakeClock()
	ks.now = clock.now
	v := newVerifier(t, hourly(srv.URL), ks)
	// Let the first (background) fetch fail before any request, so the
	// first request's own fetch is the one the minimum interval paces.
	poll(t, "the first fetch", func() bool { return idle(v.remote) })
	req := func() error {
		_, err := v.Authenticate(bearer(sign(t, jwt.SigningMethodES256, keys().p256, "p256", claims(nil))))
		return err
	}
	wantAuthError(t, req(), "invalid_token", "signing keys unavailable")
	before := srv.fetches.Load()
	srv.status.Store(0)
	wantAuthError(t, req(), "invalid_token", "signing keys unavailable")
	if n := srv.fetches.Load(); n != before {
		t.Fatalf("fetched again within the minimum interval (%d -> %d)", before, n)
	}
	clock.advance(time.Hour + time.Second)
	if err := req(); err != nil {
		t.Fatalf("after the key server came up: %v", err)
	}
}

func TestFailedRefreshKeepsKeys(t *testing.T) {
	srv := newJWKSServer(t, publicJWKs()...)
	o := hourly(srv.URL)
	o.RefreshInterval, o.MinRefreshInterval = 10*time.Millisecond, 10*time.Millisecond
	v := newVerifier(t, o, newKeySets(t))
	tok := bearer(sign(t, jwt.SigningMethodES256, keys().p256, "p256", claims(nil)))
	if _, err := v.Authenticate(tok); err != nil {
		t.Fatal(err)
	}
	srv.status.Store(http.StatusInternalServerError)
	n := srv.fetches.Load()
	poll(t, "two failed background refreshes", func() bool { return srv.fetches.Load() >= n+2 })
	if _, err := v.Authenticate(tok); err != nil {
		t.Fatalf("after failed refreshes: %v", err)
	}
}

func TestKeySetsShared(t *testing.T) {
	srv := newJWKSServer(t, publicJWKs()...)
	ks := newKeySets(t)
	a := newVerifier(t, hourly(srv.URL), ks)
	b := newVerifier(t, hourly(srv.URL), ks)
	tok := bearer(sign(t, jwt.SigningMethodEdDSA, keys().ed, "ed", claims(nil)))
	for _, v := range []*Verifier{a, b, a, b} {
		if _, err := v.Authenticate(tok); err != nil {
			t.Fatal(err)
		}
	}
	if n := srv.fetches.Load(); n != 1 {
		t.Fatalf("%d fetches for two verifiers of one URL, want 1", n)
	}
	// A reload: the new verifier is built before the old one is closed,
	// so the set, its keys and its fetcher carry over.
	c := newVerifier(t, hourly(srv.URL), ks)
	a.Close()
	b.Close()
	if _, err := c.Authenticate(tok); err != nil {
		t.Fatal(err)
	}
	if n := srv.fetches.Load(); n != 1 {
		t.Fatalf("%d fetches after a reload, want 1", n)
	}
}

func TestCloseStopsFetchers(t *testing.T) {
	base := runtime.NumGoroutine()
	srv := newJWKSServer(t, publicJWKs()...)
	tr := &http.Transport{}
	ks := NewKeySets(&http.Client{Transport: tr}, nil)
	o := hourly(srv.URL)
	o.RefreshInterval = 5 * time.Millisecond
	v := newVerifier(t, o, ks)
	poll(t, "background refreshes", func() bool { return srv.fetches.Load() >= 3 })

	rs := v.remote
	v.Close() // the last holder: the set stops
	if rs.ctx.Err() == nil {
		t.Fatal("the set still runs after its last verifier closed")
	}
	n := srv.fetches.Load()
	if _, err := v.Authenticate(bearer(sign(t, jwt.SigningMethodES256, keys().p256, "p256", claims(nil)))); err != nil {
		t.Fatalf("a closed verifier keeps its keys: %v", err)
	}
	if got := srv.fetches.Load(); got != n {
		t.Fatalf("fetched after close (%d -> %d)", n, got)
	}
	ks.Close()
	if _, err := New(hourly(srv.URL), ks); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Fatalf("New on a closed KeySets: %v", err)
	}
	tr.CloseIdleConnections()
	srv.Close()
	poll(t, "goroutines to exit", func() bool { return runtime.NumGoroutine() <= base })
}

func TestKeySetsCloseStopsAll(t *testing.T) {
	srv := newJWKSServer(t, publicJWKs()...)
	ks := NewKeySets(nil, nil)
	v := newVerifier(t, hourly(srv.URL), ks)
	ks.Close()
	select {
	case <-v.remote.ctx.Done():
	default:
		t.Fatal("KeySets.Close left a fetcher running")
	}
	if c := v.remote.begin(true, v.remote.current()); c != nil {
		t.Fatal("a stopped set started a fetch")
	}
}

func TestJWKSDocuments(t *testing.T) {
	f := keys()
	good := jwk(f.p256.Public(), "p256", "")
	cases := []struct {
		name string
		body string
		ok   bool
	}{
		{"enc keys ignored", mustJSON(t, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: f.p384.Public(), KeyID: "e", Use: "enc"}, good}}), true},
		{"bad key skipped", `{"keys":[{"kty":"RSA","kid":"x","n":"!!"},` + mustJSON(t, good) + `]}`, true},
		{"symmetric key ignored", `{"keys":[{"kty":"oct","k":"c2VjcmV0"},` + mustJSON(t, good) + `]}`, true},
		{"only enc", mustJSON(t, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: f.p256.Public(), KeyID: "p256", Use: "enc"}}}), false},
		{"no keys member", `{}`, false},
		{"not json", `<html>`, false},
		{"too large", `{"keys":[],"pad":"` + strings.Repeat("a", maxJWKSBytes) + `"}`, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := newJWKSServer(t)
			b := []byte(c.body)
			srv.doc.Store(&b)
			v := newVerifier(t, hourly(srv.URL), newKeySets(t))
			_, err := v.Authenticate(bearer(sign(t, jwt.SigningMethodES256, f.p256, "p256", claims(nil))))
			if c.ok && err != nil {
				t.Fatalf("Authenticate: %v", err)
			}
			if !c.ok {
				wantAuthError(t, err, "invalid_token", "signing keys unavailable")
			}
		})
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// idle says whether no fetch of rs is in flight.
func idle(rs *remoteSet) bool {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return rs.call == nil
}

// stallingServer never answers until the test ends.
func stallingServer(t *testing.T) *httptest.Server {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	return srv
}

func TestWaitForKeysIsBounded(t *testing.T) {
	tok := sign(t, jwt.SigningMethodES256, keys().p256, "p256", claims(nil))
	t.Run("fetch timeout", func(t *testing.T) {
		o := hourly(stallingServer(t).URL)
		o.FetchTimeout = 50 * time.Millisecond
		v := newVerifier(t, o, newKeySets(t))
		_, err := v.Authenticate(bearer(tok))
		wantAuthError(t, err, "invalid_token", "signing keys unavailable")
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("cause %v, want the fetch deadline", err)
		}
	})
	t.Run("request cancelled", func(t *testing.T) {
		v := newVerifier(t, hourly(stallingServer(t).URL), newKeySets(t))
		ctx, cancel := context.WithCancel(context.Background())
		r := bearer(tok).WithContext(ctx)
		done := make(chan error, 1)
		go func() {
			_, err := v.Authenticate(r)
			done <- err
		}()
		cancel()
		err := <-done
		wantAuthError(t, err, "invalid_token", "signing keys unavailable")
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("cause %v, want the request's cancellation", err)
		}
	})
}
