package traffic

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

func TestNewSplitErrors(t *testing.T) {
	bk := namedBackends("a", "b")
	ok := []Weighted{{Backend: "a", Weight: 1}}
	key := []byte("0123456789abcdef")
	tests := []struct {
		name string
		opts SplitOptions
		want string
	}{
		{"no weights", SplitOptions{}, "at least one backend"},
		{"zero sum", SplitOptions{Weights: []Weighted{{Backend: "a"}}}, "sum of weights"},
		{"negative weight", SplitOptions{Weights: []Weighted{{Backend: "a", Weight: -1}}}, "outside 0..10000"},
		{"weight too big", SplitOptions{Weights: []Weighted{{Backend: "a", Weight: 10001}}}, "outside 0..10000"},
		{"unknown weighted backend", SplitOptions{Weights: []Weighted{{Backend: "c", Weight: 1}}}, `weights[0]: unknown backend "c"`},
		{"duplicate backend", SplitOptions{Weights: []Weighted{{Backend: "a", Weight: 1}, {Backend: "a", Weight: 2}}}, "listed twice"},
		{"rule without field", SplitOptions{Rules: []Rule{{Backend: "a"}}, Weights: ok}, "rules[0]: exactly one of header and cookie"},
		{"rule with both fields", SplitOptions{Rules: []Rule{{Header: "X", Cookie: "c", Backend: "a"}}, Weights: ok}, "exactly one"},
		{"rule value and regex", SplitOptions{Rules: []Rule{{Header: "X", Value: "1", Regex: "1", Backend: "a"}}, Weights: ok}, "exclusive"},
		{"rule bad regex", SplitOptions{Rules: []Rule{{Header: "X", Regex: "(", Backend: "a"}}, Weights: ok}, "regex"},
		{"rule bad header", SplitOptions{Rules: []Rule{{Header: "X Y", Backend: "a"}}, Weights: ok}, "invalid header name"},
		{"rule bad cookie", SplitOptions{Rules: []Rule{{Cookie: "a=b", Backend: "a"}}, Weights: ok}, "invalid cookie name"},
		{"rule unknown backend", SplitOptions{Rules: []Rule{{Header: "X", Backend: "z"}}, Weights: ok}, `rules[0]: unknown backend "z"`},
		{"bad sticky", SplitOptions{Weights: ok, Sticky: "session"}, `sticky: unknown key "session"`},
		{"bad sticky header", SplitOptions{Weights: ok, Sticky: "header:"}, "invalid header name"},
		{"bad sticky cookie", SplitOptions{Weights: ok, Sticky: "cookie:a;b"}, "invalid cookie name"},
		{"short pin key", SplitOptions{Weights: ok, SetCookie: PinCookie{Name: "pin", Key: []byte("short")}}, "at least 16"},
		{"negative ttl", SplitOptions{Weights: ok, SetCookie: PinCookie{Name: "pin", Key: key, TTL: -1}}, "ttl is negative"},
		{"bad pin name", SplitOptions{Weights: ok, SetCookie: PinCookie{Name: "p in", Key: key}}, "set_cookie: cookie"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewSplit(tt.opts, bk)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
			if !strings.HasPrefix(err.Error(), "split: ") {
				t.Errorf("err %q lacks the component prefix", err)
			}
		})
	}
}

// TestSplitWeights draws 10000 requests over 5/95. The canary count is
// binomial (mean 500, sd 21.8); ±150 is about 7 sd, so a false failure is
// practically impossible without a fixed seed.
func TestSplitWeights(t *testing.T) {
	s, err := NewSplit(SplitOptions{Weights: []Weighted{{"canary", 5}, {"stable", 95}, {"off", 0}}},
		namedBackends("canary", "stable", "off"))
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	r := httptest.NewRequest("GET", "/", nil)
	for range 10000 {
		counts[serve(s, r).Body.String()]++
	}
	if c := counts["canary"]; c < 350 || c > 650 {
		t.Errorf("canary got %d of 10000, want 500±150", c)
	}
	if counts["off"] != 0 || counts["canary"]+counts["stable"] != 10000 {
		t.Errorf("counts = %v", counts)
	}
}

func TestSplitRules(t *testing.T) {
	s, err := NewSplit(SplitOptions{
		Rules: []Rule{
			{Header: "x-env", Value: "green", Backend: "green"},
			{Header: "X-Tenant", Regex: "acme|globex", Backend: "blue"},
			{Cookie: "beta", Value: "yes", Backend: "beta"},
			{Cookie: "preview", Backend: "beta"},
			{Header: "X-Debug", Backend: "blue"},
		},
		Weights: []Weighted{{"stable", 1}, {"green", 0}},
	}, namedBackends("stable", "green", "blue", "beta"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		header http.Header
		want   string
	}{
		{"no rule matches", nil, "stable"},
		{"header rule beats weights", http.Header{"X-Env": {"green"}}, "green"},
		{"header value is case-sensitive", http.Header{"X-Env": {"Green"}}, "stable"},
		{"second value of repeated header", http.Header{"X-Env": {"blue", "green"}}, "green"},
		{"regex is anchored", http.Header{"X-Tenant": {"acme"}}, "blue"},
		{"regex partial does not match", http.Header{"X-Tenant": {"acme-corp"}}, "stable"},
		{"cookie rule", http.Header{"Cookie": {"a=1; beta=yes; z=2"}}, "beta"},
		{"cookie with quotes", http.Header{"Cookie": {`beta="yes"`}}, "beta"},
		{"cookie other value", http.Header{"Cookie": {"beta=no"}}, "stable"},
		{"cookie name is exact", http.Header{"Cookie": {"xbeta=yes"}}, "stable"},
		{"cookie presence", http.Header{"Cookie": {"a=1", "preview="}}, "beta"},
		{"header presence, empty", http.Header{"X-Debug": {""}}, "blue"},
		{"first rule wins", http.Header{"X-Env": {"green"}, "Cookie": {"beta=yes"}}, "green"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.Header = tt.header
			if r.Header == nil {
				r.Header = http.Header{}
			}
			if got := serve(s, r).Body.String(); got != tt.want {
				t.Errorf("served by %q, want %q", got, tt.want)
			}
			if got := s.Choose(r); got != tt.want {
				t.Errorf("Choose = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestSplitRealUpstreams runs a Split in a real server in front of two
// real upstreams, reached through forwarding handlers.
func TestSplitRealUpstreams(t *testing.T) {
	var (
		mu     sync.Mutex
		chosen []string
	)
	s, err := NewSplit(SplitOptions{
		Rules:   []Rule{{Header: "X-Beta", Value: "1", Backend: "beta"}},
		Weights: []Weighted{{"prod", 100}},
		OnChoice: func(_ *http.Request, b string) {
			mu.Lock()
			chosen = append(chosen, b)
			mu.Unlock()
		},
	}, map[string]http.Handler{"prod": upstream(t, "prod"), "beta": upstream(t, "beta")})
	if err != nil {
		t.Fatal(err)
	}
	front := httptest.NewServer(s)
	defer front.Close()
	for _, beta := range []bool{false, true, false} {
		req, _ := http.NewRequest("GET", front.URL+"/x", nil)
		want := "prod"
		if beta {
			req.Header.Set("X-Beta", "1")
			want = "beta"
		}
		resp, err := front.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) != want || resp.Header.Get("X-Backend") != want {
			t.Errorf("beta=%v: got %q, want %q", beta, body, want)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(chosen, ",") != "prod,beta,prod" {
		t.Errorf("OnChoice saw %v", chosen)
	}
}
