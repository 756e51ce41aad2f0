package credauth

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bouncer-proxy/bouncer/l7"
)

// introspectionServer is a loopback RFC 7662 endpoint answering from a
// table of tokens; it counts calls, checks the client's authentication
// and form, and can be made to block until released.
type introspectionServer struct {
	*httptest.Server
	calls   atomic.Int64
	answers map[string]map[string]any
	block   chan struct{} // when set, calls wait for it to close
	arrived chan struct{} // receives a blocked call's arrival if ready (buffer 1)
	once    sync.Once
}

// hold makes calls wait until release (or the test's end).
func (s *introspectionServer) hold(t *testing.T) {
	s.block, s.arrived = make(chan struct{}), make(chan struct{}, 1)
	t.Cleanup(s.release) // runs before the server's Close
}

func (s *introspectionServer) release() { s.once.Do(func() { close(s.block) }) }

func newIntrospectionServer(t *testing.T, answers map[string]map[string]any) *introspectionServer {
	s := &introspectionServer{answers: answers}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *introspectionServer) serve(w http.ResponseWriter, r *http.Request) {
	s.calls.Add(1)
	user, pass, ok := r.BasicAuth()
	if r.Method != http.MethodPost || !ok || user != "gw+id" || pass != "s%3Acret" ||
		r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
		http.Error(w, "bad client", http.StatusUnauthorized)
		return
	}
	_ = r.ParseForm() // read the body first, so a client that gives up cancels r's context
	if s.block != nil {
		select { // tell the test, unless no one listens
		case s.arrived <- struct{}{}:
		default:
		}
		select {
		case <-s.block:
		case <-r.Context().Done():
			return
		}
	}
	tok := r.PostFormValue("token")
	if tok == "boom" {
		http.Error(w, "internal", http.StatusInternalServerError)
		return
	}
	if tok == "garbage" {
		_, _ = w.Write([]byte("not json"))
		return
	}
	if r.PostFormValue("token_type_hint") != "access_token" {
		http.Error(w, "no hint", http.StatusBadRequest)
		return
	}
	ans, found := s.answers[tok]
	if !found {
		ans = map[string]any{"active": false}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(ans)
}

func newTestIntrospection(t *testing.T, url string, mod func(*IntrospectionOptions)) (*Introspection, *fakeClock) {
	t.Helper()
	opts := IntrospectionOptions{URL: url, ClientID: "gw id", ClientSecret: "s:cret", TokenTypeHint: "access_token",
		Realm: "api", Sources: []Source{{Kind: SourceHeader, Name: "authorization"}, {Kind: SourceCookie, Name: "at"},
			{Kind: SourceQuery, Name: "access_token"}}}
	if mod != nil {
		mod(&opts)
	}
	in, err := NewIntrospection(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(in.CloseIdleConnections)
	clock := newFakeClock()
	in.now = clock.now
	return in, clock
}

func bearerReq(token string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("Authorization", "Bearer "+token)
	return r
}

func TestIntrospectionActive(t *testing.T) {
	far := float64(time.Now().Add(time.Hour).Unix())
	srv := newIntrospectionServer(t, map[string]map[string]any{
		"tok-a": {"active": true, "sub": "u1", "client_id": "app", "scope": "read  write", "exp": far,
			"iss": "https://idp", "aud": []any{"x", "api"}},
		"tok-b": {"active": true, "sub": "u2", "username": "bob"},
		"tok-c": {"active": true, "sub": "u3"},
		"tok-d": {"active": true, "username": "dora", "client_id": "app"},
		"tok-e": {"active": true, "client_id": "app"},
	})
	in, _ := newTestIntrospection(t, srv.URL, func(o *IntrospectionOptions) {
		o.Issuer, o.RequiredAudiences = "https://idp", []string{"api"}
	})
	id, err := in.Authenticate(bearerReq("tok-a"))
	if err != nil {
		t.Fatal(err)
	}
	if id.Method != "introspection" || id.Subject != "u1" || id.Consumer != "app" ||
		strings.Join(id.Scopes, ",") != "read,write" || id.Claims["iss"] != "https://idp" {
		t.Fatalf("identity = %+v", id)
	}
	if _, err := in.Authenticate(bearerReq("tok-a")); err != nil || srv.calls.Load() != 1 {
		t.Fatalf("second request: err %v, calls %d, want a cache hit", err, srv.calls.Load())
	}
	in2, _ := newTestIntrospection(t, srv.URL, nil)
	for tok, consumer := range map[string]string{"tok-b": "bob", "tok-c": "u3"} {
		id, err := in2.Authenticate(bearerReq(tok))
		if err != nil || id.Consumer != consumer {
			t.Fatalf("%s: identity %+v, err %v, want consumer %s", tok, id, err, consumer)
		}
	}
	// The subject is the user: sub, else username; a token of the client
	// itself has none, while its consumer stays the client.
	for tok, subject := range map[string]string{"tok-b": "u2", "tok-d": "dora", "tok-e": ""} {
		id, err := in2.Authenticate(bearerReq(tok))
		if err != nil || id.Subject != subject || (tok != "tok-b" && id.Consumer != "app") {
			t.Fatalf("%s: identity %+v, err %v, want subject %q", tok, id, err, subject)
		}
	}
}

func TestIntrospectionRejections(t *testing.T) {
	now := time.Now()
	srv := newIntrospectionServer(t, map[string]map[string]any{
		"expired":   {"active": true, "sub": "u", "exp": float64(now.Add(-time.Minute).Unix())},
		"other-iss": {"active": true, "sub": "u", "iss": "https://evil", "aud": "api"},
		"other-aud": {"active": true, "sub": "u", "iss": "https://idp", "aud": "web"},
		"no-aud":    {"active": true, "sub": "u", "iss": "https://idp"},
	})
	in, _ := newTestIntrospection(t, srv.URL, func(o *IntrospectionOptions) {
		o.Issuer, o.RequiredAudiences = "https://idp", []string{"api"}
	})
	tests := []struct{ token, reason string }{
		{"unknown", "token not active"},
		{"expired", "token expired"},
		{"other-iss", "wrong issuer"},
		{"other-aud", "wrong audience"},
		{"no-aud", "wrong audience"},
	}
	for _, tc := range tests {
		t.Run(tc.token, func(t *testing.T) {
			for range 2 { // the second answer comes from the negative cache
				_, err := in.Authenticate(bearerReq(tc.token))
				ae := asAuthError(t, err)
				if ae.Status != 0 || ae.Code != "invalid_token" || ae.Reason != tc.reason {
					t.Fatalf("auth error = %+v, want invalid_token %q", ae, tc.reason)
				}
			}
		})
	}
	if got := srv.calls.Load(); got != int64(len(tests)) {
		t.Fatalf("calls = %d, want %d (one per token)", got, len(tests))
	}
}

func TestIntrospectionNegativeCacheExpires(t *testing.T) {
	srv := newIntrospectionServer(t, nil)
	in, clock := newTestIntrospection(t, srv.URL, nil)
	for range 2 {
		if _, err := in.Authenticate(bearerReq("dead")); err == nil {
			t.Fatal("inactive token accepted")
		}
	}
	clock.advance(10 * time.Second)
	if _, err := in.Authenticate(bearerReq("dead")); err == nil {
		t.Fatal("inactive token accepted")
	}
	if got := srv.calls.Load(); got != 2 {
		t.Fatalf("calls = %d, want 2", got)
	}
}

// The cache never outlives the token: an answer with exp in 5s is asked
// again after 6s, although CacheTTL is 60s, and is then expired.
func TestIntrospectionCacheBoundedByExp(t *testing.T) {
	exp := time.Now().Unix() + 5 // 4 to 5 s after the fake clock's start
	srv := newIntrospectionServer(t, map[string]map[string]any{"short": {"active": true, "sub": "u", "exp": float64(exp)}})
	in, clock := newTestIntrospection(t, srv.URL, nil)
	if _, err := in.Authenticate(bearerReq("short")); err != nil {
		t.Fatal(err)
	}
	clock.advance(3 * time.Second)
	if _, err := in.Authenticate(bearerReq("short")); err != nil || srv.calls.Load() != 1 {
		t.Fatalf("within exp: err %v, calls %d", err, srv.calls.Load())
	}
	clock.advance(3 * time.Second)
	_, err := in.Authenticate(bearerReq("short"))
	if ae := asAuthError(t, err); ae.Reason != "token expired" || srv.calls.Load() != 2 {
		t.Fatalf("after exp: %+v, calls %d", ae, srv.calls.Load())
	}
}

func TestIntrospectionUnavailable(t *testing.T) {
	srv := newIntrospectionServer(t, nil)
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	slow := newIntrospectionServer(t, nil)
	slow.hold(t)
	tests := []struct {
		name, url, token string
	}{
		{"endpoint error", srv.URL, "boom"},
		{"not json", srv.URL, "garbage"},
		{"wrong client credentials", srv.URL, "x"},
		{"server closed", closed.URL, "x"},
		{"timeout", slow.URL, "x"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in, _ := newTestIntrospection(t, tc.url, func(o *IntrospectionOptions) {
				o.Timeout = 200 * time.Millisecond
				if tc.name == "wrong client credentials" {
					o.ClientSecret = "wrong"
				}
			})
			for range 2 { // failures are not cached
				start := time.Now()
				_, err := in.Authenticate(bearerReq(tc.token))
				ae := asAuthError(t, err)
				if ae.Status != http.StatusServiceUnavailable || ae.Reason != "authorization server unavailable" || ae.Cause == nil {
					t.Fatalf("auth error = %+v", ae)
				}
				if d := time.Since(start); d > 3*time.Second {
					t.Fatalf("took %v", d)
				}
			}
		})
	}
	if got := srv.calls.Load(); got != 6 {
		t.Fatalf("calls = %d, want 6 (failures are not cached)", got)
	}
}

// Concurrent requests with the same uncached token make one call.
func TestIntrospectionSingleflight(t *testing.T) {
	srv := newIntrospectionServer(t, map[string]map[string]any{"tok": {"active": true, "sub": "u"}})
	srv.hold(t)
	in, _ := newTestIntrospection(t, srv.URL, func(o *IntrospectionOptions) { o.CacheTTL, o.NegativeCacheTTL = -1, -1 })
	const n = 8
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			id, err := in.Authenticate(bearerReq("tok"))
			if err == nil && id.Subject != "u" {
				err = errors.New("wrong subject " + id.Subject)
			}
			errs <- err
		})
	}
	<-srv.arrived
	waitFor(t, "all requests to join the call", func() bool { return in.flight.waiting(tokenKey("tok")) == n-1 })
	srv.release()
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := srv.calls.Load(); got != 1 {
		t.Fatalf("calls = %d, want 1", got)
	}
}

// A waiter whose client goes away stops waiting; the call goes on for the others.
func TestIntrospectionWaiterCancel(t *testing.T) {
	srv := newIntrospectionServer(t, map[string]map[string]any{"tok": {"active": true, "sub": "u"}})
	srv.hold(t)
	in, _ := newTestIntrospection(t, srv.URL, nil)
	leader := make(chan error, 1)
	go func() {
		_, err := in.Authenticate(bearerReq("tok"))
		leader <- err
	}()
	<-srv.arrived
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := in.Authenticate(bearerReq("tok").WithContext(ctx))
	if ae := asAuthError(t, err); ae.Status != http.StatusServiceUnavailable || !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled waiter: %+v", ae)
	}
	srv.release()
	if err := <-leader; err != nil {
		t.Fatalf("leader: %v", err)
	}
}

func TestIntrospectionSources(t *testing.T) {
	srv := newIntrospectionServer(t, map[string]map[string]any{"tok": {"active": true, "sub": "u"}})
	in, _ := newTestIntrospection(t, srv.URL, nil)
	withHeader := func(v string) *http.Request {
		r := httptest.NewRequest(http.MethodGet, "/p?x=1", nil)
		r.Header.Set("Authorization", v)
		return r
	}
	cookie := httptest.NewRequest(http.MethodGet, "/", nil)
	cookie.AddCookie(&http.Cookie{Name: "at", Value: "tok"})
	query := httptest.NewRequest(http.MethodGet, "/p?access_token=tok&x=1", nil)
	tests := []struct {
		name string
		req  *http.Request
		want string // "ok", "none", "malformed"
	}{
		{"bearer", withHeader("Bearer tok"), "ok"},
		{"bearer lower case, extra spaces", withHeader("bearer   tok"), "ok"},
		{"cookie", cookie, "ok"},
		{"query", query, "ok"},
		{"empty bearer", withHeader("Bearer "), "malformed"},
		{"two tokens", withHeader("Bearer a b"), "malformed"},
		{"basic is not ours", withHeader("Basic dTpw"), "none"},
		{"nothing", httptest.NewRequest(http.MethodGet, "/", nil), "none"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := in.Authenticate(tc.req)
			switch tc.want {
			case "ok":
				if err != nil {
					t.Fatal(err)
				}
			case "none":
				if !errors.Is(err, l7.ErrNoCredentials) {
					t.Fatalf("err = %v, want ErrNoCredentials", err)
				}
			default:
				if ae := asAuthError(t, err); ae.Code != "invalid_request" {
					t.Fatalf("auth error = %+v", ae)
				}
			}
		})
	}
	if query.URL.RawQuery != "x=1" {
		t.Fatalf("token left in query: %q", query.URL.RawQuery)
	}
}

func TestNewIntrospectionErrors(t *testing.T) {
	tests := []struct {
		name string
		opts IntrospectionOptions
		want string
	}{
		{"no url", IntrospectionOptions{}, "url is required"},
		{"relative url", IntrospectionOptions{URL: "/introspect"}, "absolute http or https"},
		{"ftp url", IntrospectionOptions{URL: "ftp://idp/x"}, "absolute http or https"},
		{"secret without id", IntrospectionOptions{URL: "http://idp", ClientSecret: "s"}, "without client id"},
		{"negative timeout", IntrospectionOptions{URL: "http://idp", Timeout: -1}, "may not be negative"},
		{"bad source", IntrospectionOptions{URL: "http://idp", Sources: []Source{{Kind: 9, Name: "x"}}}, "unknown kind"},
		{"unnamed source", IntrospectionOptions{URL: "http://idp", Sources: []Source{{Kind: SourceCookie}}}, "empty name"},
		{"bad header source", IntrospectionOptions{URL: "http://idp", Sources: []Source{{Kind: SourceHeader, Name: "a b"}}}, "invalid header name"},
		{"empty audience", IntrospectionOptions{URL: "http://idp", RequiredAudiences: []string{""}}, "empty required audience"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewIntrospection(tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}
