package ipfilter

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/bouncer-proxy/bouncer/l7"
)

func TestAllowed(t *testing.T) {
	tests := []struct {
		name  string
		opts  Options
		addrs map[string]bool
	}{
		{
			name: "allow list only",
			opts: Options{Allow: []string{"10.0.0.0/8", "192.0.2.7", "2001:db8::/32"}},
			addrs: map[string]bool{
				"10.1.2.3": true, "10.255.255.255": true, "11.0.0.0": false, "9.255.255.255": false,
				"192.0.2.7": true, "192.0.2.8": false, "2001:db8::1": true, "2001:db9::": false,
				"::ffff:10.0.0.1": true, "::ffff:11.0.0.1": false, "fe80::1%eth0": false,
			},
		},
		{
			name: "deny list only",
			opts: Options{Deny: []string{"203.0.113.0/24", "::1"}},
			addrs: map[string]bool{
				"203.0.113.9": false, "203.0.114.1": true, "::1": false, "::2": true, "127.0.0.1": true,
			},
		},
		{
			name:  "deny wins over allow",
			opts:  Options{Allow: []string{"10.0.0.0/8"}, Deny: []string{"10.9.0.0/16"}},
			addrs: map[string]bool{"10.8.255.255": true, "10.9.1.1": false, "10.10.0.0": true},
		},
		{
			name:  "mapped prefix in config meets IPv4 client",
			opts:  Options{Allow: []string{"::ffff:192.168.0.0/112"}},
			addrs: map[string]bool{"192.168.3.4": true, "192.169.0.0": false},
		},
		{
			name:  "overlapping and adjacent prefixes merge",
			opts:  Options{Allow: []string{"10.0.0.0/25", "10.0.0.128/25", "10.0.0.0/24", "10.0.0.5"}},
			addrs: map[string]bool{"10.0.0.0": true, "10.0.0.200": true, "10.0.1.0": false},
		},
		{
			name:  "everything",
			opts:  Options{Allow: []string{"0.0.0.0/0", "::/0"}, Deny: []string{"255.255.255.255"}},
			addrs: map[string]bool{"1.2.3.4": true, "255.255.255.254": true, "255.255.255.255": false, "ffff::": true},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := New(tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			for s, want := range tt.addrs {
				if got := f.Allowed(netip.MustParseAddr(s)); got != want {
					t.Errorf("Allowed(%s) = %v, want %v", s, got, want)
				}
			}
			if f.Allowed(netip.Addr{}) {
				t.Error("the invalid address is allowed")
			}
		})
	}
}

func TestNewErrors(t *testing.T) {
	tests := []struct {
		opts Options
		want string
	}{
		{Options{}, "no allow or deny entries"},
		{Options{Allow: []string{"10.0.0.1/8"}}, `allow[0]: prefix "10.0.0.1/8" has host bits set (did you mean 10.0.0.0/8?)`},
		{Options{Deny: []string{"10.0.0.0/8", "nope"}}, `deny[1]: bad address "nope"`},
		{Options{Deny: []string{"10.0.0.0/33"}}, `deny[0]: bad prefix "10.0.0.0/33"`},
		{Options{Allow: []string{"fe80::1%eth0"}}, `allow[0]: address "fe80::1%eth0" has a zone`},
	}
	for _, tt := range tests {
		_, err := New(tt.opts)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("New(%+v) = %v, want an error containing %q", tt.opts, err, tt.want)
		}
	}
	if _, err := New(Options{}); !errors.Is(err, ErrEmpty) {
		t.Errorf("empty options: %v, want ErrEmpty", err)
	}
}

// withClient stands in for the gateway: it records the socket's peer as
// the client address, as the gateway does without trusted proxies.
func withClient(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ap, err := netip.ParseAddrPort(r.RemoteAddr)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		info := &l7.Info{Client: ap.Addr(), RequestID: "rid-1"}
		next.ServeHTTP(w, r.WithContext(l7.WithInfo(r.Context(), info)))
	})
}

func TestWrap(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "upstream") })
	tests := []struct {
		name       string
		opts       Options
		wantStatus int
	}{
		{"loopback allowed", Options{Allow: []string{"127.0.0.0/8"}}, http.StatusOK},
		{"loopback denied", Options{Deny: []string{"127.0.0.1"}}, http.StatusForbidden},
		{"not in allow list", Options{Allow: []string{"192.0.2.0/24"}}, http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := New(tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(withClient(f.Wrap(ok)))
			defer srv.Close()
			res, err := http.Get(srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != tt.wantStatus {
				t.Fatalf("status %d, want %d (%s)", res.StatusCode, tt.wantStatus, body)
			}
			if tt.wantStatus == http.StatusOK {
				if string(body) != "upstream" {
					t.Fatalf("body %q", body)
				}
				return
			}
			var doc map[string]map[string]any
			if err := json.Unmarshal(body, &doc); err != nil {
				t.Fatalf("body %q: %v", body, err)
			}
			if doc["error"]["message"] != "client address not allowed" || doc["error"]["code"] != l7.CodeForbidden ||
				doc["error"]["request_id"] != "rid-1" {
				t.Fatalf("error body %s", body)
			}
		})
	}
}

func TestWrapWithoutInfo(t *testing.T) {
	f, err := New(Options{Deny: []string{"192.0.2.1"}})
	if err != nil {
		t.Fatal(err)
	}
	called := false
	h := f.Wrap(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { called = true }))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != http.StatusForbidden || called {
		t.Fatalf("status %d, next called %v: an unknown client must be refused", rec.Code, called)
	}
}

// prefixes makes n distinct /24s in 10.0.0.0/8 and 100.64.0.0/10 plus /48s
// in 2001:db8::/32, spaced so they do not merge.
func prefixes(n int) []string {
	out := make([]string, 0, n)
	for i := 0; len(out) < n; i++ {
		out = append(out, fmt.Sprintf("10.%d.%d.0/24", (i*2)/256%256, (i*2)%256))
		if len(out) < n {
			out = append(out, fmt.Sprintf("2001:db8:%x::/48", i*2))
		}
	}
	return out
}

func TestManyPrefixes(t *testing.T) {
	f, err := New(Options{Allow: prefixes(10000)})
	if err != nil {
		t.Fatal(err)
	}
	if got := len(f.allow.v4) + len(f.allow.v6); got != 10000 {
		t.Fatalf("%d spans, want 10000 (none adjacent)", got)
	}
	for s, want := range map[string]bool{
		"10.0.0.1": true, "10.0.1.1": false, "10.19.134.77": true, "10.19.135.77": false,
		"2001:db8:2::5": true, "2001:db8:3::5": false, "11.0.0.0": false,
	} {
		if got := f.Allowed(netip.MustParseAddr(s)); got != want {
			t.Errorf("Allowed(%s) = %v, want %v", s, got, want)
		}
	}
}

func BenchmarkAllowed10k(b *testing.B) {
	f, err := New(Options{Allow: prefixes(10000), Deny: prefixes(2000)[:1000]})
	if err != nil {
		b.Fatal(err)
	}
	addrs := []netip.Addr{
		netip.MustParseAddr("10.19.134.77"), netip.MustParseAddr("10.19.135.77"),
		netip.MustParseAddr("2001:db8:2::5"), netip.MustParseAddr("192.0.2.1"),
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		f.Allowed(addrs[i%len(addrs)])
	}
}
