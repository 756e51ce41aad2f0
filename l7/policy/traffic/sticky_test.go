package traffic

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/bouncer-proxy/bouncer/l7"
)

// user makes request number i of a user identified by key k, with the key
// placed where the sticky source reads it.
type user func(k int) *http.Request

func TestSplitStickySources(t *testing.T) {
	tests := []struct {
		sticky string
		req    user
	}{
		{"header:X-User", func(k int) *http.Request {
			r := httptest.NewRequest("GET", "/", nil)
			r.Header.Set("X-User", fmt.Sprintf("user-%d", k))
			return r
		}},
		{"cookie:session", func(k int) *http.Request {
			r := httptest.NewRequest("GET", "/", nil)
			r.Header.Set("Cookie", fmt.Sprintf("theme=dark; session=s%d", k))
			return r
		}},
		{"consumer", func(k int) *http.Request {
			r := httptest.NewRequest("GET", "/", nil)
			id := &l7.Identity{Consumer: fmt.Sprintf("consumer-%d", k)}
			return r.WithContext(l7.WithInfo(r.Context(), &l7.Info{Identity: id}))
		}},
		{"client_ip", func(k int) *http.Request {
			r := httptest.NewRequest("GET", "/", nil)
			a := netip.AddrFrom4([4]byte{10, 0, byte(k >> 8), byte(k)})
			return r.WithContext(l7.WithInfo(r.Context(), &l7.Info{Client: a}))
		}},
		{"client_ip", func(k int) *http.Request { // no Info: the peer address
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = fmt.Sprintf("[2001:db8::%x]:4000", k+1)
			return r
		}},
	}
	opts := func(sticky string) SplitOptions {
		return SplitOptions{Sticky: sticky, Weights: []Weighted{{"a", 30}, {"b", 70}}}
	}
	for _, tt := range tests {
		t.Run(tt.sticky, func(t *testing.T) {
			first, err := NewSplit(opts(tt.sticky), namedBackends("a", "b"))
			if err != nil {
				t.Fatal(err)
			}
			rebuilt, err := NewSplit(opts(tt.sticky), namedBackends("a", "b"))
			if err != nil {
				t.Fatal(err)
			}
			onA := 0
			for k := range 1000 {
				want := first.Choose(tt.req(k))
				for range 5 {
					if got := serve(first, tt.req(k)).Body.String(); got != want {
						t.Fatalf("user %d moved from %s to %s", k, want, got)
					}
				}
				if got := rebuilt.Choose(tt.req(k)); got != want {
					t.Fatalf("user %d: rebuilt split sends to %s, first to %s", k, got, want)
				}
				if want == "a" {
					onA++
				}
			}
			// 30% of 1000 users: binomial sd 14.5; ±90 is over 6 sd.
			if onA < 210 || onA > 390 {
				t.Errorf("%d of 1000 users on a, want about 300", onA)
			}
		})
	}
}

// TestSplitStickyReweight checks the documented movement: growing the
// canary from 5 to 10 while keeping the sum moves only users from stable
// to canary, about 5% of them.
func TestSplitStickyReweight(t *testing.T) {
	build := func(canary int, salt string) *Split {
		s, err := NewSplit(SplitOptions{Sticky: "header:X-User", Salt: salt,
			Weights: []Weighted{{"canary", canary}, {"stable", 100 - canary}}}, namedBackends("canary", "stable"))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	before, after, salted := build(5, ""), build(10, ""), build(5, "other-experiment")
	moved, differ := 0, 0
	for k := range 4000 {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("X-User", fmt.Sprintf("u%d", k))
		b, a := before.Choose(r), after.Choose(r)
		if b == "canary" && a != "canary" {
			t.Fatalf("user %d left the canary when it grew", k)
		}
		if b != a {
			moved++
		}
		if b != salted.Choose(r) {
			differ++
		}
	}
	// 5% of 4000 = 200, sd 13.8.
	if moved < 120 || moved > 280 {
		t.Errorf("%d of 4000 users moved, want about 200", moved)
	}
	// Independent 5% placements disagree for about 9.5% of users.
	if differ < 250 || differ > 510 {
		t.Errorf("a different salt placed %d of 4000 users differently, want about 380", differ)
	}
}

func TestSplitStickyMissingKeyIsRandom(t *testing.T) {
	s, err := NewSplit(SplitOptions{Sticky: "header:X-User", Weights: []Weighted{{"a", 1}, {"b", 1}}},
		namedBackends("a", "b"))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for range 200 {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("X-User", "") // empty is no key
		got[serve(s, r).Body.String()]++
	}
	if got["a"] == 0 || got["b"] == 0 {
		t.Errorf("requests without a key all went one way: %v", got)
	}
}

func TestCookieValue(t *testing.T) {
	tests := []struct {
		lines []string
		name  string
		want  string
		ok    bool
	}{
		{[]string{"a=1; b=2"}, "b", "2", true},
		{[]string{"a=1;b=2"}, "b", "2", true},
		{[]string{"a=1", "b=2"}, "b", "2", true},
		{[]string{`b="q v"`}, "b", "q v", true},
		{[]string{"b=1; b=2"}, "b", "1", true},
		{[]string{"ab=1; b"}, "b", "", false},
		{[]string{"b="}, "b", "", true},
		{nil, "b", "", false},
	}
	for _, tt := range tests {
		got, ok := cookieValue(http.Header{"Cookie": tt.lines}, tt.name)
		if got != tt.want || ok != tt.ok {
			t.Errorf("cookieValue(%q, %q) = %q, %v; want %q, %v", tt.lines, tt.name, got, ok, tt.want, tt.ok)
		}
	}
}
