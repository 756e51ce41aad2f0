package traffic

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/bouncer-proxy/bouncer/l7"
)

var noop = http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})

// splitCases are the request paths of a Split that must not allocate.
func splitCases(tb testing.TB) map[string]struct {
	s *Split
	r *http.Request
} {
	bk := map[string]http.Handler{"canary": noop, "stable": noop}
	weights := []Weighted{{"canary", 5}, {"stable", 95}}
	mk := func(o SplitOptions) *Split {
		o.Weights = weights
		s, err := NewSplit(o, bk)
		if err != nil {
			tb.Fatal(err)
		}
		return s
	}
	plain := httptest.NewRequest("GET", "/", nil)
	hdr := httptest.NewRequest("GET", "/", nil)
	hdr.Header.Set("X-User", "user-42")
	hdr.Header.Set("Cookie", "theme=dark; session=abcdef0123456789")
	info := &l7.Info{Client: netip.MustParseAddr("192.0.2.7"), Identity: &l7.Identity{Consumer: "acme"}}
	withInfo := plain.WithContext(l7.WithInfo(context.Background(), info))
	pinned := mk(SplitOptions{SetCookie: PinCookie{Name: "pin", Key: pinKey}})
	pinReq := httptest.NewRequest("GET", "/", nil)
	pinReq.AddCookie(&http.Cookie{Name: "pin", Value: pinned.backends[0].token})
	onChoice := func(*http.Request, string) {}
	return map[string]struct {
		s *Split
		r *http.Request
	}{
		"weighted":         {mk(SplitOptions{OnChoice: onChoice}), plain},
		"rule miss":        {mk(SplitOptions{Rules: []Rule{{Header: "X-Env", Value: "green", Backend: "canary"}}}), hdr},
		"sticky header":    {mk(SplitOptions{Sticky: "header:X-User"}), hdr},
		"sticky cookie":    {mk(SplitOptions{Sticky: "cookie:session"}), hdr},
		"sticky client_ip": {mk(SplitOptions{Sticky: "client_ip"}), withInfo},
		"sticky peer":      {mk(SplitOptions{Sticky: "client_ip"}), plain},
		"sticky consumer":  {mk(SplitOptions{Sticky: "consumer"}), withInfo},
		"pinned":           {pinned, pinReq},
	}
}

func TestSplitZeroAlloc(t *testing.T) {
	for name, c := range splitCases(t) {
		w := &discardWriter{header: http.Header{}}
		if n := testing.AllocsPerRun(200, func() { c.s.ServeHTTP(w, c.r) }); n != 0 {
			t.Errorf("%s: %v allocations per request", name, n)
		}
	}
}

func BenchmarkSplit(b *testing.B) {
	for name, c := range splitCases(b) {
		b.Run(strings.ReplaceAll(name, " ", "_"), func(b *testing.B) {
			w := &discardWriter{header: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				c.s.ServeHTTP(w, c.r)
			}
		})
	}
}

// BenchmarkMirror measures what mirroring costs the primary's goroutine:
// the sampling, the copy of the request and starting the shadow.
func BenchmarkMirror(b *testing.B) {
	body := strings.Repeat("x", 1024)
	for _, c := range []struct {
		name    string
		percent float64
		body    string
	}{{"off", 0, ""}, {"get", 100, ""}, {"post_1KiB", 100, body}} {
		b.Run(c.name, func(b *testing.B) {
			m, err := NewMirror(MirrorOptions{Percent: c.percent, MaxInFlight: 1 << 16}, noop)
			if err != nil {
				b.Fatal(err)
			}
			h := m.Wrap(noop)
			w := &discardWriter{header: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				r := httptest.NewRequest("POST", "/orders", strings.NewReader(c.body))
				h.ServeHTTP(w, r)
			}
			b.StopTimer()
			if err := m.Drain(context.Background()); err != nil {
				b.Fatal(err)
			}
		})
	}
}
