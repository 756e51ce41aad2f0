package traffic

import (
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

var pinKey = []byte("test key, sixteen bytes or more")

func pinSplit(t *testing.T, weights []Weighted, key []byte) *Split {
	t.Helper()
	s, err := NewSplit(SplitOptions{
		Sticky:    "consumer", // absent on these requests: pinning applies
		Weights:   weights,
		SetCookie: PinCookie{Name: "bnc_pin", TTL: 90 * time.Minute, Key: key, Secure: true},
	}, namedBackends("a", "b"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// firstPin draws until a request lands on want and returns the Set-Cookie.
func firstPin(t *testing.T, s *Split, want string) *http.Cookie {
	t.Helper()
	for range 1000 {
		w := serve(s, httptest.NewRequest("GET", "/", nil))
		if w.Body.String() != want {
			continue
		}
		cs := w.Result().Cookies()
		if len(cs) != 1 {
			t.Fatalf("Set-Cookie = %q", w.Header().Values("Set-Cookie"))
		}
		return cs[0]
	}
	t.Fatalf("no request landed on %s", want)
	return nil
}

func TestSplitPinCookie(t *testing.T) {
	s := pinSplit(t, []Weighted{{"a", 50}, {"b", 50}}, pinKey)
	for _, name := range []string{"a", "b"} {
		c := firstPin(t, s, name)
		if c.Name != "bnc_pin" || c.MaxAge != 5400 || !c.HttpOnly || !c.Secure || c.Path != "/" ||
			c.SameSite != http.SameSiteLaxMode {
			t.Errorf("cookie attributes: %+v", c)
		}
		if c.Value == name || len(c.Value) != 22 {
			t.Errorf("cookie value %q is not an opaque token", c.Value)
		}
		for range 100 {
			r := httptest.NewRequest("GET", "/", nil)
			r.AddCookie(c)
			w := serve(s, r)
			if w.Body.String() != name {
				t.Fatalf("pinned to %s, served by %s", name, w.Body.String())
			}
			if sc := w.Header().Get("Set-Cookie"); sc != "" {
				t.Fatalf("pinned request got a new cookie %q", sc)
			}
		}
	}
}

func TestSplitPinForgedIgnored(t *testing.T) {
	s := pinSplit(t, []Weighted{{"a", 50}, {"b", 50}}, pinKey)
	otherKey := pinSplit(t, []Weighted{{"a", 50}, {"b", 50}}, []byte("another key, also long enough"))
	foreign := firstPin(t, otherKey, "a")
	genuine := firstPin(t, s, "a")
	forged := map[string]string{
		"backend name":      "a",
		"other key":         foreign.Value,
		"truncated":         genuine.Value[:21],
		"flipped character": flip(genuine.Value),
	}
	for name, v := range forged {
		t.Run(name, func(t *testing.T) {
			got := map[string]int{}
			for range 200 {
				r := httptest.NewRequest("GET", "/", nil)
				r.AddCookie(&http.Cookie{Name: "bnc_pin", Value: v})
				w := serve(s, r)
				got[w.Body.String()]++
				if w.Header().Get("Set-Cookie") == "" {
					t.Fatal("an ignored cookie was not replaced")
				}
			}
			if got["a"] == 0 || got["b"] == 0 {
				t.Errorf("forged cookie still steered: %v", got)
			}
		})
	}
}

// TestSplitPinDrained checks that a pin to a backend whose weight went to 0
// is ignored, so draining a backend moves its pinned users.
func TestSplitPinDrained(t *testing.T) {
	c := firstPin(t, pinSplit(t, []Weighted{{"a", 50}, {"b", 50}}, pinKey), "a")
	drained := pinSplit(t, []Weighted{{"a", 0}, {"b", 50}}, pinKey)
	r := httptest.NewRequest("GET", "/", nil)
	r.AddCookie(c)
	w := serve(drained, r)
	if w.Body.String() != "b" {
		t.Fatalf("drained backend still served a pinned user")
	}
	cs := w.Result().Cookies()
	if len(cs) != 1 || cs[0].Value == c.Value {
		t.Errorf("expected a new pin, got %v", cs)
	}
}

// TestSplitKeyBeatsNoPin checks a request with a sticky key gets no cookie.
func TestSplitKeyBeatsNoPin(t *testing.T) {
	s, err := NewSplit(SplitOptions{Sticky: "header:X-User", Weights: []Weighted{{"a", 1}, {"b", 1}},
		SetCookie: PinCookie{Name: "pin", Key: pinKey}}, namedBackends("a", "b"))
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("X-User", "alice")
	if w := serve(s, r); w.Header().Get("Set-Cookie") != "" {
		t.Errorf("keyed request was pinned: %q", w.Header().Get("Set-Cookie"))
	}
	if w := serve(s, httptest.NewRequest("GET", "/", nil)); !strings.HasPrefix(w.Header().Get("Set-Cookie"), "pin=") {
		t.Errorf("request without key was not pinned: %q", w.Header().Get("Set-Cookie"))
	}
}

func flip(s string) string {
	b := []byte(s)
	if b[0] == 'A' {
		b[0] = 'B'
	} else {
		b[0] = 'A'
	}
	return string(b)
}

// TestSplitPinRealClient runs the pin through a real server and a client
// with a cookie jar: after the first answer, the client stays put.
func TestSplitPinRealClient(t *testing.T) {
	s, err := NewSplit(SplitOptions{Weights: []Weighted{{"a", 1}, {"b", 1}},
		SetCookie: PinCookie{Name: "pin", Key: pinKey}},
		map[string]http.Handler{"a": upstream(t, "a"), "b": upstream(t, "b")})
	if err != nil {
		t.Fatal(err)
	}
	front := httptest.NewServer(s)
	defer front.Close()
	for range 5 { // five browsers
		jar, _ := cookiejar.New(nil)
		client := &http.Client{Jar: jar}
		first := ""
		for i := range 20 {
			resp, err := client.Get(front.URL + "/page")
			if err != nil {
				t.Fatal(err)
			}
			got := resp.Header.Get("X-Backend")
			resp.Body.Close()
			if i == 0 {
				first = got
			} else if got != first {
				t.Fatalf("request %d went to %s, the pin said %s", i, got, first)
			}
		}
	}
}
