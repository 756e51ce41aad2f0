package router

import (
	"net/netip"
	"testing"
)

func yes() *bool { b := true; return &b }

func TestMatch(t *testing.T) {
	tab, err := Compile([]Entry[string]{
		{Name: "fallback", Value: "fallback"},
		{Name: "tls-any", Match: Match{TLS: yes()}, Value: "tls-any"},
		{Name: "wild", Match: Match{SNI: []string{"*.example.com"}}, Value: "wild"},
		{Name: "wild-longer", Match: Match{SNI: []string{"*.db.example.com"}}, Value: "wild-longer"},
		{Name: "exact", Match: Match{SNI: []string{"API.example.com."}}, Value: "exact"},
		{Name: "regex", Match: Match{SNI: []string{`~shop-[0-9]+\.test`}}, Value: "regex"},
		{Name: "h2-api", Match: Match{SNI: []string{"api.example.com"}, ALPN: []string{"h2"}}, Value: "h2-api"},
		{Name: "office", Match: Match{Clients: []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16")}, Ports: []uint16{5432}}, Value: "office"},
		{Name: "pg", Match: Match{Ports: []uint16{5432}}, Value: "pg"},
	})
	if err != nil {
		t.Fatal(err)
	}
	lan := netip.MustParseAddr("10.1.2.3")
	wan := netip.MustParseAddr("203.0.113.9")
	for _, c := range []struct {
		conn Conn
		want string
	}{
		{Conn{TLS: true, SNI: "api.example.com", ALPN: []string{"h2", "http/1.1"}}, "h2-api"},
		{Conn{TLS: true, SNI: "api.example.com", ALPN: []string{"http/1.1"}}, "exact"},
		{Conn{TLS: true, SNI: "www.example.com"}, "wild"},
		{Conn{TLS: true, SNI: "a.b.example.com"}, "wild"},
		{Conn{TLS: true, SNI: "pg.db.example.com"}, "wild-longer"},
		{Conn{TLS: true, SNI: "example.com"}, "tls-any"},
		{Conn{TLS: true, SNI: "shop-42.test"}, "regex"},
		{Conn{TLS: true, SNI: "shop-42.test.evil"}, "tls-any"},
		{Conn{TLS: true}, "tls-any"},
		{Conn{Port: 5432, Client: lan}, "office"},
		{Conn{Port: 5432, Client: netip.MustParseAddr("::ffff:10.1.2.3")}, "office"},
		{Conn{Port: 5432, Client: wan}, "pg"},
		{Conn{Port: 80, Client: wan}, "fallback"},
	} {
		r, ok := tab.Match(&c.conn)
		if !ok || r.Value != c.want {
			got := "none"
			if ok {
				got = r.Value
			}
			t.Errorf("%+v: route %s, want %s", c.conn, got, c.want)
		}
	}
}

func TestNoMatchAndBadRegex(t *testing.T) {
	tab, err := Compile([]Entry[int]{{Name: "only", Match: Match{SNI: []string{"a.test"}}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := tab.Match(&Conn{TLS: true, SNI: "b.test"}); ok {
		t.Error("matched a name no route has")
	}
	if _, ok := tab.Match(&Conn{}); ok {
		t.Error("a route with sni matched a connection without one")
	}
	if _, err := Compile([]Entry[int]{{Name: "bad", Match: Match{SNI: []string{"~a("}}}}); err == nil {
		t.Error("a bad regex compiled")
	}
}

// Ties keep the config's order.
func TestTiesKeepOrder(t *testing.T) {
	tab, err := Compile([]Entry[string]{
		{Name: "first", Match: Match{SNI: []string{"a.test"}}, Value: "first"},
		{Name: "second", Match: Match{SNI: []string{"a.test"}}, Value: "second"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := tab.Match(&Conn{TLS: true, SNI: "a.test"}); r.Value != "first" {
		t.Errorf("got %s", r.Value)
	}
}

func BenchmarkMatch(b *testing.B) {
	var entries []Entry[int]
	for i := range 50 {
		entries = append(entries, Entry[int]{Name: "r", Match: Match{SNI: []string{string(rune('a'+i%26)) + ".example.com"}}, Value: i})
	}
	entries = append(entries, Entry[int]{Name: "wild", Match: Match{SNI: []string{"*.example.com"}}})
	tab, _ := Compile(entries)
	c := &Conn{TLS: true, SNI: "zz.example.com", ALPN: []string{"h2"}}
	b.ReportAllocs()
	for b.Loop() {
		tab.Match(c)
	}
}

// The name index gives the same answer as trying every route in order.
func TestIndexAgreesWithScan(t *testing.T) {
	names := []string{"a.test", "b.test", "x.a.test", "y.b.test", ""}
	var entries []Entry[int]
	for i := range 40 {
		var m Match
		switch i % 5 {
		case 0:
			m.SNI = []string{names[i%4]}
		case 1:
			m.SNI = []string{"*.a.test", names[(i+1)%4]}
		case 2:
			m.SNI = []string{names[i%4]}
			m.ALPN = []string{"h2"}
		case 3:
			m.Ports = []uint16{uint16(i % 3)}
		case 4:
			m.SNI = []string{`~[xy]\..*`}
		}
		entries = append(entries, Entry[int]{Name: "r", Match: m, Value: i})
	}
	tab, err := Compile(entries)
	if err != nil {
		t.Fatal(err)
	}
	for _, sni := range names {
		for _, alpn := range [][]string{nil, {"h2"}} {
			for port := range uint16(3) {
				c := &Conn{TLS: true, SNI: sni, ALPN: alpn, Port: port}
				var want *Route[int]
				for _, r := range tab.routes {
					if r.matches(c) {
						want = r
						break
					}
				}
				got, _ := tab.Match(c)
				if got != want {
					t.Errorf("%+v: index gives %v, scan %v", c, got, want)
				}
			}
		}
	}
}

// A route is ranked by the form of server name that matched the
// connection, not by the most specific form it lists: a wildcard match
// of a route that also lists exact names loses to another route's exact
// name, and a short wildcard to a longer one elsewhere.
func TestRankByMatchedName(t *testing.T) {
	tab, err := Compile([]Entry[string]{
		{Name: "catch", Match: Match{SNI: []string{"admin.example.com", "*.example.com", "*.com"}}, Value: "catch"},
		{Name: "api", Match: Match{SNI: []string{"api.example.com"}}, Value: "api"},
		{Name: "shop", Match: Match{SNI: []string{"*.shop.com"}}, Value: "shop"},
		{Name: "iot", Match: Match{SNI: []string{`~iot-\d+\.example\.net`}}, Value: "iot"},
		{Name: "admin", Match: Match{SNI: []string{"admin.example.com"}}, Value: "admin"},
	})
	if err != nil {
		t.Fatal(err)
	}
	for sni, want := range map[string]string{
		"api.example.com":   "api",   // exact beats catch's wildcard
		"www.shop.com":      "shop",  // *.shop.com beats catch's *.com
		"admin.example.com": "catch", // both exact: the config's order
		"www.example.com":   "catch",
		"other.com":         "catch",
	} {
		r, ok := tab.Match(&Conn{TLS: true, SNI: sni})
		if !ok || r.Value != want {
			t.Errorf("%s: got %v, want %s", sni, r, want)
		}
	}
	if tab.Len() != 5 {
		t.Errorf("Len = %d, want 5", tab.Len())
	}
}

// A regex keeps its escapes as written (\d stays a digit, \D a non-digit)
// and matches names case-insensitively.
func TestRegexNotLowerCased(t *testing.T) {
	tab, err := Compile([]Entry[string]{
		{Name: "iot", Match: Match{SNI: []string{`~IOT-\D+\.example\.net`}}, Value: "iot"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := tab.Match(&Conn{TLS: true, SNI: "iot-abc.example.net"}); !ok {
		t.Error("iot-abc.example.net did not match IOT-\\D+")
	}
	if r, ok := tab.Match(&Conn{TLS: true, SNI: "iot-42.example.net"}); ok {
		t.Errorf("iot-42.example.net matched %s", r.Name)
	}
	if _, err := Compile([]Entry[int]{{Name: "u", Match: Match{SNI: []string{`~\PL+\.test`}}}}); err != nil {
		t.Errorf("a valid Unicode class failed to compile: %v", err)
	}
}
