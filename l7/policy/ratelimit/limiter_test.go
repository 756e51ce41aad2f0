package ratelimit

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// serve runs lm in front of a 200 handler on a loopback server.
func serve(t *testing.T, lm *Limiter) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if lm.Check(w, r) {
			_, _ = w.Write([]byte("ok"))
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// byHeader keys requests by X-User; requests without it are not limited.
func byHeader(r *http.Request) (string, bool) {
	u := r.Header.Get("X-User")
	return u, u != ""
}

func get(t *testing.T, url, user string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if user != "" {
		req.Header.Set("X-User", user)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func TestLimiterHeaders(t *testing.T) {
	now := epoch
	limits := []Limit{
		{Name: "per-second", Requests: 10, Period: time.Second, Burst: 2},
		{Name: "per-day", Requests: 1000, Period: 24 * time.Hour},
	}
	lm, err := New(limits, NewLocalStore(LocalOptions{}), byHeader, Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	srv := serve(t, lm)
	const policy = `"per-second";q=10;w=1, "per-day";q=1000;w=86400`
	tests := []struct {
		user, status, state, retry string
	}{
		{"ann", "200 OK", `"per-second";r=1;t=1`, ""},
		{"ann", "200 OK", `"per-second";r=0;t=1`, ""},
		{"ann", "429 Too Many Requests", `"per-second";r=0;t=1`, "1"},
		{"", "200 OK", "", ""},
	}
	for i, tc := range tests {
		resp := get(t, srv.URL, tc.user)
		h := resp.Header
		if resp.Status != tc.status || h.Get("RateLimit") != tc.state || h.Get("Retry-After") != tc.retry {
			t.Fatalf("request %d: %s RateLimit=%q Retry-After=%q; want %s %q %q",
				i, resp.Status, h.Get("RateLimit"), h.Get("Retry-After"), tc.status, tc.state, tc.retry)
		}
		wantPolicy := policy
		if tc.user == "" {
			wantPolicy = ""
		}
		if got := h.Get("RateLimit-Policy"); got != wantPolicy {
			t.Fatalf("request %d: RateLimit-Policy %q, want %q", i, got, wantPolicy)
		}
		if resp.StatusCode == http.StatusTooManyRequests {
			var body struct{ Error struct{ Code string } }
			if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.Error.Code != "RATE_LIMITED" {
				t.Fatalf("429 body: %+v %v", body, err)
			}
		}
	}
}

// TestLimiterMostRestrictive: the RateLimit field names the limit with the
// least remaining; a daily quota near its end wins over a fresh burst.
func TestLimiterMostRestrictive(t *testing.T) {
	limits := []Limit{
		{Name: "burst", Requests: 100, Period: time.Second},
		{Name: "daily", Requests: 3, Period: 24 * time.Hour},
	}
	lm, err := New(limits, NewLocalStore(LocalOptions{}), byHeader, Options{Now: func() time.Time { return epoch }})
	if err != nil {
		t.Fatal(err)
	}
	srv := serve(t, lm)
	want := []string{`"daily";r=2;t=28800`, `"daily";r=1;t=28800`, `"daily";r=0;t=28800`}
	for i, w := range want {
		if got := get(t, srv.URL, "u").Header.Get("RateLimit"); got != w {
			t.Fatalf("request %d: RateLimit %q, want %q", i, got, w)
		}
	}
	resp := get(t, srv.URL, "u")
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "28800" {
		t.Fatalf("fourth request: %s Retry-After %q", resp.Status, resp.Header.Get("Retry-After"))
	}
}

// TestLimiterDenialDoesNotConsume: a request denied by the second limit
// gives back the cell it took from the first.
func TestLimiterDenialDoesNotConsume(t *testing.T) {
	store := NewLocalStore(LocalOptions{})
	a := Limit{Name: "a", Requests: 5, Period: time.Hour}
	b := Limit{Name: "b", Requests: 2, Period: time.Hour}
	lm, err := New([]Limit{a, b}, store, byHeader, Options{Now: func() time.Time { return epoch }})
	if err != nil {
		t.Fatal(err)
	}
	srv := serve(t, lm)
	for i := range 10 {
		resp := get(t, srv.URL, "u")
		if want := i < 2; (resp.StatusCode == http.StatusOK) != want {
			t.Fatalf("request %d: %s", i, resp.Status)
		}
	}
	r, _ := store.Take(context.Background(), "u", a, epoch)
	if r.Remaining != 2 {
		t.Fatalf("limit a has %d left after 2 admitted requests and 8 denials, want 2", r.Remaining)
	}
}

// TestLimiterStoreDown: a fail-closed Redis store that cannot be reached
// makes the Limiter answer 503; fail-open lets the request through.
func TestLimiterStoreDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	for _, open := range []bool{false, true} {
		t.Run(fmt.Sprint("fail_open=", open), func(t *testing.T) {
			store := newRedisStore(t, addr, RedisOptions{FailOpen: open})
			lm, err := New([]Limit{{Name: "x", Requests: 1, Period: time.Second}}, store, byHeader, Options{})
			if err != nil {
				t.Fatal(err)
			}
			resp := get(t, serve(t, lm).URL, "u")
			want := http.StatusServiceUnavailable
			if open {
				want = http.StatusOK
			}
			if resp.StatusCode != want || resp.Header.Get("RateLimit") != "" {
				t.Fatalf("%s RateLimit=%q, want %d without state", resp.Status, resp.Header.Get("RateLimit"), want)
			}
		})
	}
}

func TestNewRejects(t *testing.T) {
	ok := Limit{Name: "a", Requests: 1, Period: time.Second}
	store := NewLocalStore(LocalOptions{})
	tests := []struct {
		name   string
		limits []Limit
		key    KeyFunc
	}{
		{"no limits", nil, byHeader},
		{"no key func", []Limit{ok}, nil},
		{"duplicate", []Limit{ok, ok}, byHeader},
		{"invalid", []Limit{{Name: "b"}}, byHeader},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := New(tc.limits, store, tc.key, Options{}); err == nil {
				t.Fatal("New accepted it")
			}
		})
	}
}

func TestHeaderValues(t *testing.T) {
	tests := []struct{ got, want string }{
		{sfString(`plain`), `"plain"`},
		{sfString(`a"b\c`), `"a\"b\\c"`},
		{policyHeader([]Limit{{Name: "x", Requests: 3, Period: 1500 * time.Millisecond}}), `"x";q=4;w=2`},
		{stateHeader(`"x"`, 7, 1001*time.Millisecond), `"x";r=7;t=2`},
		{stateHeader(`"x"`, 0, 0), `"x";r=0;t=1`},
	}
	for _, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("got %s, want %s", tc.got, tc.want)
		}
	}
}
