package credauth

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bouncer-proxy/bouncer/l7"
)

// authzServer is a loopback authorization service that decides by the
// Authorization header and records what it was sent.
type authzServer struct {
	*httptest.Server
	calls atomic.Int64
	mu    sync.Mutex
	last  http.Header
	slow  chan struct{} // "Bearer slow" waits for it to close
}

func newAuthzServer(t *testing.T) *authzServer {
	s := &authzServer{slow: make(chan struct{})}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	t.Cleanup(func() { close(s.slow) }) // runs first
	return s
}

func (s *authzServer) serve(w http.ResponseWriter, r *http.Request) {
	s.calls.Add(1)
	s.mu.Lock()
	s.last = r.Header.Clone()
	s.mu.Unlock()
	h := w.Header()
	switch r.Header.Get("Authorization") {
	case "Bearer good":
		h.Set("X-Auth-Consumer", "alice")
		h.Set("X-User-Id", "42")
		h.Set("X-Internal", "not for upstream")
		w.WriteHeader(http.StatusNoContent)
	case "Bearer forbidden":
		h.Set("X-Reason", "policy")
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write([]byte("no"))
	case "Bearer teapot":
		w.WriteHeader(http.StatusTeapot)
	case "Bearer redirect":
		h.Set("Location", "/login")
		w.WriteHeader(http.StatusFound)
	case "Bearer huge":
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(strings.Repeat("x", 100)))
	case "Bearer reader": // may read /public on api.example, nothing else
		if r.Header.Get("X-Forwarded-Method") != http.MethodGet || r.Header.Get("X-Forwarded-Host") != "api.example" ||
			r.Header.Get("X-Forwarded-Uri") != "/public" || r.Header.Get("X-Forwarded-Proto") != "http" {
			w.WriteHeader(http.StatusForbidden)
			return
		}
		h.Set("X-Auth-Consumer", "alice")
		w.WriteHeader(http.StatusNoContent)
	case "Bearer boom":
		w.WriteHeader(http.StatusServiceUnavailable)
	case "Bearer slow":
		select {
		case <-s.slow:
		case <-r.Context().Done():
		}
	default:
		h.Set("WWW-Authenticate", `Bearer realm="sso"`)
		h.Set("Content-Type", "text/plain")
		h.Set("X-Internal", "not for the client")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte("log in first"))
	}
}

func (s *authzServer) lastHeader() http.Header {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last
}

func newTestExtAuthz(t *testing.T, url string, mod func(*ExtAuthzOptions)) (*ExtAuthz, *fakeClock) {
	t.Helper()
	opts := ExtAuthzOptions{URL: url, Timeout: 200 * time.Millisecond, ForwardHeaders: []string{"authorization"},
		AllowedUpstreamHeaders: []string{"X-User-Id", "X-Missing"}, AllowedClientHeaders: []string{"www-authenticate", "Content-Type", "Location"},
		ConsumerHeader: "X-Auth-Consumer", MaxBodyBytes: 50}
	if mod != nil {
		mod(&opts)
	}
	a, err := NewExtAuthz(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.CloseIdleConnections)
	clock := newFakeClock()
	a.now = clock.now
	return a, clock
}

func authzReq(token string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "http://api.example/orders/7?x=1", nil)
	r.RemoteAddr = "192.0.2.9:4000"
	r.Header.Set("Cookie", "session=secret")
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	return r
}

func TestExtAuthzAllow(t *testing.T) {
	srv := newAuthzServer(t)
	a, _ := newTestExtAuthz(t, srv.URL, nil)
	r := authzReq("good")
	r.Header.Set("X-Forwarded-Method", "spoofed")
	id, err := a.Authenticate(r)
	if err != nil {
		t.Fatal(err)
	}
	if id.Method != "ext_authz" || id.Consumer != "alice" {
		t.Fatalf("identity = %+v", id)
	}
	if len(id.Forward) != 1 || id.Forward.Get("X-User-Id") != "42" {
		t.Fatalf("forward = %v, want only X-User-Id", id.Forward)
	}
	sent := srv.lastHeader()
	want := map[string]string{"Authorization": "Bearer good", "X-Forwarded-Method": "POST", "X-Forwarded-Proto": "http",
		"X-Forwarded-Host": "api.example", "X-Forwarded-Uri": "/orders/7?x=1", "X-Forwarded-For": "192.0.2.9", "Cookie": ""}
	for k, v := range want {
		if got := sent.Get(k); got != v {
			t.Errorf("service got %s = %q, want %q", k, got, v)
		}
	}
}

// The client address comes from the request's Info when the gateway has
// resolved it through trusted proxies.
func TestExtAuthzClientFromInfo(t *testing.T) {
	srv := newAuthzServer(t)
	a, _ := newTestExtAuthz(t, srv.URL, nil)
	r := authzReq("good")
	r = r.WithContext(l7.WithInfo(r.Context(), &l7.Info{Client: netip.MustParseAddr("2001:db8::1")}))
	if _, err := a.Authenticate(r); err != nil {
		t.Fatal(err)
	}
	if got := srv.lastHeader().Get("X-Forwarded-For"); got != "2001:db8::1" {
		t.Fatalf("X-Forwarded-For = %q", got)
	}
}

func TestExtAuthzDeny(t *testing.T) {
	srv := newAuthzServer(t)
	a, _ := newTestExtAuthz(t, srv.URL, nil)
	tests := []struct {
		token   string
		status  int
		headers map[string]string
		body    string
	}{
		{"", 401, map[string]string{"Www-Authenticate": `Bearer realm="sso"`, "Content-Type": "text/plain"}, "log in first"},
		{"forbidden", 403, nil, "no"},
		{"teapot", 403, nil, ""},
		{"redirect", 403, map[string]string{"Location": "/login"}, ""},
		{"huge", 401, nil, ""},
	}
	for _, tc := range tests {
		t.Run("token "+tc.token, func(t *testing.T) {
			r := authzReq(tc.token)
			_, err := a.Authenticate(r)
			var d *Denied
			if !errors.As(err, &d) {
				t.Fatalf("err = %v, want *Denied", err)
			}
			if d.Status != tc.status || d.Header.Get("X-Internal") != "" || d.Header.Get("X-Reason") != "" {
				t.Fatalf("denied = %d %v", d.Status, d.Header)
			}
			if tc.body == "" && d.Body != nil || string(d.Body) != tc.body && tc.body != "" {
				t.Fatalf("body = %q, want %q", d.Body, tc.body)
			}
			rec := httptest.NewRecorder()
			d.Render(rec, r)
			if rec.Code != tc.status || rec.Body.String() != tc.body || rec.Header().Get("X-Internal") != "" {
				t.Fatalf("rendered %d %v %q", rec.Code, rec.Header(), rec.Body)
			}
			for k, v := range tc.headers {
				if got := rec.Header().Get(k); got != v {
					t.Fatalf("rendered %s = %q, want %q", k, got, v)
				}
			}
		})
	}
}

func TestExtAuthzUnavailable(t *testing.T) {
	srv := newAuthzServer(t)
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	tests := []struct{ name, url, token string }{
		{"5xx answer", srv.URL, "boom"},
		{"timeout", srv.URL, "slow"},
		{"server closed", closed.URL, "good"},
	}
	for _, tc := range tests {
		for _, open := range []bool{false, true} {
			name := tc.name + map[bool]string{false: " fail closed", true: " fail open"}[open]
			t.Run(name, func(t *testing.T) {
				a, _ := newTestExtAuthz(t, tc.url, func(o *ExtAuthzOptions) {
					o.FailOpen = open
					o.CacheKey = []string{"Authorization"} // failures must not be cached
				})
				for i := range 2 {
					id, err := a.Authenticate(authzReq(tc.token))
					if open {
						if err != nil || id.Method != "ext_authz" || id.Consumer != "" || a.FailOpens() != uint64(i+1) {
							t.Fatalf("fail open: id %+v, err %v, count %d", id, err, a.FailOpens())
						}
						continue
					}
					ae := asAuthError(t, err)
					if ae.Status != http.StatusServiceUnavailable || ae.Cause == nil || a.FailOpens() != 0 {
						t.Fatalf("auth error = %+v", ae)
					}
				}
			})
		}
	}
	if got := srv.calls.Load(); got != 8 {
		t.Fatalf("calls = %d, want 8 (failures are not cached)", got)
	}
}

// A client that went away is not let through by FailOpen.
func TestExtAuthzClientGone(t *testing.T) {
	srv := newAuthzServer(t)
	a, _ := newTestExtAuthz(t, srv.URL, func(o *ExtAuthzOptions) { o.FailOpen = true })
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := a.Authenticate(authzReq("good").WithContext(ctx))
	if ae := asAuthError(t, err); ae.Status != http.StatusServiceUnavailable || a.FailOpens() != 0 {
		t.Fatalf("auth error = %+v, fail opens %d", ae, a.FailOpens())
	}
}

func TestExtAuthzCache(t *testing.T) {
	srv := newAuthzServer(t)
	a, clock := newTestExtAuthz(t, srv.URL, func(o *ExtAuthzOptions) {
		o.CacheKey, o.CacheTTL = []string{"Authorization"}, 30*time.Second
	})
	step := func(token string, wantCalls int64, wantErr bool) {
		t.Helper()
		id, err := a.Authenticate(authzReq(token))
		if (err != nil) != wantErr {
			t.Fatalf("token %q: err = %v", token, err)
		}
		if err == nil && id.Consumer != "alice" {
			t.Fatalf("token %q: identity %+v", token, id)
		}
		if got := srv.calls.Load(); got != wantCalls {
			t.Fatalf("token %q: calls = %d, want %d", token, got, wantCalls)
		}
	}
	step("good", 1, false)
	step("good", 1, false)     // cached allow
	step("forbidden", 2, true) // another key
	step("forbidden", 2, true) // cached denial
	step("", 3, true)          // absent header is its own key
	clock.advance(30 * time.Second)
	step("good", 4, false) // expired
}

// A cached decision is about one request: the same token asking for
// another method, URI, host or scheme is asked about again.
func TestExtAuthzCacheKeysRequest(t *testing.T) {
	srv := newAuthzServer(t)
	a, _ := newTestExtAuthz(t, srv.URL, func(o *ExtAuthzOptions) {
		o.CacheKey, o.CacheTTL = []string{"Authorization"}, 30*time.Second
	})
	for i, tc := range []struct {
		method, url string
		allowed     bool
		calls       int64
	}{
		{"GET", "http://api.example/public", true, 1},
		{"GET", "http://api.example/public", true, 1}, // cached
		{"DELETE", "http://api.example/public", false, 2},
		{"GET", "http://api.example/admin", false, 3},
		{"GET", "http://api.example/public?all=1", false, 4},
		{"GET", "http://other.example/public", false, 5},
		{"GET", "https://api.example/public", false, 6},
		{"DELETE", "http://api.example/public", false, 6}, // cached denial
	} {
		r := httptest.NewRequest(tc.method, tc.url, nil) // https sets r.TLS
		r.Header.Set("Authorization", "Bearer reader")
		_, err := a.Authenticate(r)
		if (err == nil) != tc.allowed || srv.calls.Load() != tc.calls {
			t.Fatalf("step %d %s %s: err %v, %d calls; want allowed %v after %d calls", i, tc.method, tc.url, err,
				srv.calls.Load(), tc.allowed, tc.calls)
		}
	}
}

func TestNewExtAuthzErrors(t *testing.T) {
	tests := []struct {
		name string
		opts ExtAuthzOptions
		want string
	}{
		{"no url", ExtAuthzOptions{}, "url is required"},
		{"bad url", ExtAuthzOptions{URL: "localhost:9000"}, "absolute http or https"},
		{"negative timeout", ExtAuthzOptions{URL: "http://a", Timeout: -time.Second}, "may not be negative"},
		{"bad forward header", ExtAuthzOptions{URL: "http://a", ForwardHeaders: []string{"bad header"}}, "forward_headers[0]: invalid header name"},
		{"hop by hop", ExtAuthzOptions{URL: "http://a", AllowedUpstreamHeaders: []string{"connection"}}, "Connection cannot be passed on"},
		{"framing", ExtAuthzOptions{URL: "http://a", AllowedClientHeaders: []string{"Content-Length"}}, "cannot be passed on"},
		{"bad consumer header", ExtAuthzOptions{URL: "http://a", ConsumerHeader: "x:y"}, "consumer_header"},
		{"bad cache key", ExtAuthzOptions{URL: "http://a", CacheKey: []string{""}}, "cache_key[0]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewExtAuthz(tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}
