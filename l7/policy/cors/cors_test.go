package cors

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestOrigins(t *testing.T) {
	set, err := compileOrigins([]string{
		"https://App.Example.org", "http://localhost:3000", "https://*.example.com",
		"https://*.corp.example.net:8443", "null", "https://plain.example:443",
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]bool{
		"https://app.example.org":             true,
		"HTTPS://APP.EXAMPLE.ORG":             true,
		"http://app.example.org":              false,
		"https://app.example.org:8443":        false,
		"http://localhost:3000":               true,
		"http://localhost":                    false,
		"https://a.example.com":               true,
		"https://a.b.example.com":             true,
		"https://example.com":                 false,
		"https://evil-example.com":            false,
		"https://.example.com":                false,
		"https://a..example.com":              false,
		"https://a.example.com:444":           false,
		"http://a.example.com":                false,
		"https://evil.com/.example.com":       false,
		"https://a:b@c.example.com":           false,
		"https://x.corp.example.net:8443":     true,
		"https://x.corp.example.net":          false,
		"https://x.example.com.evil.net":      false,
		"null":                                true,
		"https://plain.example":               true,
		"":                                    false,
		"https://a.example.com.example.com":   true,
		"https://a.example.com:1.example.com": false,
	}
	for origin, want := range tests {
		if got := set.allows(origin); got != want {
			t.Errorf("allows(%q) = %v, want %v", origin, got, want)
		}
	}
}

func TestNewErrors(t *testing.T) {
	tests := []struct {
		opts Options
		want string
	}{
		{Options{}, "allow_origins is empty"},
		{Options{AllowOrigins: []string{"*"}, AllowCredentials: true}, "cannot be used with"},
		{Options{AllowOrigins: []string{"example.com"}}, `allow_origins[0]: origin "example.com"`},
		{Options{AllowOrigins: []string{"https://a.com/path"}}, "no path"},
		{Options{AllowOrigins: []string{"https://a.*.com"}}, "want scheme://*.domain"},
		{Options{AllowOrigins: []string{"https://*.com"}}, "at least two labels"},
		{Options{AllowOrigins: []string{"https://a.com"}, MaxAge: -time.Second}, "negative"},
		{Options{AllowOrigins: []string{"https://a.com"}, AllowMethods: []string{"GE T"}}, "allow_methods[0]"},
		{Options{AllowOrigins: []string{"https://a.com"}, AllowHeaders: []string{"x:y"}}, "allow_headers[0]"},
		{Options{AllowOrigins: []string{"https://a.com"}, ExposeHeaders: []string{""}}, "expose_headers[0]"},
	}
	for _, tt := range tests {
		_, err := New(tt.opts)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("New(%+v) = %v, want an error containing %q", tt.opts, err, tt.want)
		}
	}
	if _, err := New(Options{AllowOrigins: []string{"*"}, AllowCredentials: true}); !errors.Is(err, ErrCredentialsAnyOrigin) {
		t.Errorf("got %v, want ErrCredentialsAnyOrigin", err)
	}
}

type exchange struct {
	name    string
	opts    Options
	method  string
	headers map[string]string
	status  int
	want    map[string]string // response headers; "" means absent
	vary    string            // expected Vary, joined
	reached bool              // the upstream saw the request
}

var base = Options{
	AllowOrigins:  []string{"https://app.example.com", "https://*.example.org"},
	AllowMethods:  []string{"put", "PATCH"},
	AllowHeaders:  []string{"Content-Type", "X-Trace"},
	ExposeHeaders: []string{"X-Request-Id"},
	MaxAge:        10 * time.Minute,
}

func withOpts(f func(*Options)) Options {
	o := base
	f(&o)
	return o
}

func preflight(origin, method, headers string) map[string]string {
	return map[string]string{"Origin": origin, "Access-Control-Request-Method": method, "Access-Control-Request-Headers": headers}
}

const preflightVary = "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"

var exchanges = []exchange{
	{name: "preflight allowed", opts: base, method: "OPTIONS", headers: preflight("https://app.example.com", "PUT", "content-type, x-trace"),
		status: 204, vary: preflightVary, want: map[string]string{
			"Access-Control-Allow-Origin": "https://app.example.com", "Access-Control-Allow-Methods": "PUT, PATCH",
			"Access-Control-Allow-Headers": "Content-Type, X-Trace", "Access-Control-Max-Age": "600",
			"Access-Control-Allow-Credentials": "", "X-Upstream": ""}},
	{name: "preflight safelisted method", opts: base, method: "OPTIONS", headers: preflight("https://a.b.example.org", "POST", ""),
		status: 204, vary: preflightVary, want: map[string]string{"Access-Control-Allow-Origin": "https://a.b.example.org"}},
	{name: "preflight bad origin", opts: base, method: "OPTIONS", headers: preflight("https://example.org", "PUT", ""),
		status: 403, vary: preflightVary, want: map[string]string{"Access-Control-Allow-Origin": "", "message": "cors preflight refused: origin not allowed"}},
	{name: "preflight bad method", opts: base, method: "OPTIONS", headers: preflight("https://app.example.com", "DELETE", ""),
		status: 403, vary: preflightVary, want: map[string]string{"message": "cors preflight refused: method DELETE not allowed"}},
	{name: "preflight lowercase patch is another method", opts: base, method: "OPTIONS", headers: preflight("https://app.example.com", "patch", ""),
		status: 403, vary: preflightVary, want: map[string]string{"message": "cors preflight refused: method patch not allowed"}},
	{name: "preflight bad header", opts: base, method: "OPTIONS", headers: preflight("https://app.example.com", "PUT", "x-trace,authorization"),
		status: 403, vary: preflightVary, want: map[string]string{"message": "cors preflight refused: header authorization not allowed"}},
	{name: "preflight private network refused", opts: base, method: "OPTIONS",
		headers: map[string]string{"Origin": "https://app.example.com", "Access-Control-Request-Method": "GET", "Access-Control-Request-Private-Network": "true"},
		status:  403, vary: preflightVary, want: map[string]string{"message": "cors preflight refused: private network access not allowed"}},
	{name: "preflight private network allowed", opts: withOpts(func(o *Options) { o.AllowPrivateNetwork = true }), method: "OPTIONS",
		headers: map[string]string{"Origin": "https://app.example.com", "Access-Control-Request-Method": "GET", "Access-Control-Request-Private-Network": "true"},
		status:  204, vary: preflightVary, want: map[string]string{"Access-Control-Allow-Private-Network": "true"}},
	{name: "preflight wildcards echo", opts: Options{AllowOrigins: []string{"https://app.example.com"}, AllowMethods: []string{"*"}, AllowHeaders: []string{"*"}, AllowCredentials: true},
		method: "OPTIONS", headers: preflight("https://app.example.com", "PURGE", "Authorization, X-Any"), status: 204, vary: preflightVary,
		want: map[string]string{"Access-Control-Allow-Methods": "PURGE", "Access-Control-Allow-Headers": "Authorization, X-Any",
			"Access-Control-Allow-Credentials": "true", "Access-Control-Max-Age": ""}},
	{name: "options without request method goes upstream", opts: base, method: "OPTIONS", headers: map[string]string{"Origin": "https://app.example.com"},
		status: 200, reached: true, vary: "Origin", want: map[string]string{"Access-Control-Allow-Origin": "https://app.example.com"}},
	{name: "actual request allowed", opts: base, method: "GET", headers: map[string]string{"Origin": "https://app.example.com"},
		status: 200, reached: true, vary: "Origin", want: map[string]string{
			"Access-Control-Allow-Origin": "https://app.example.com", "Access-Control-Expose-Headers": "X-Request-Id",
			"Access-Control-Allow-Methods": "", "X-Upstream": "yes"}},
	{name: "actual request with credentials", opts: withOpts(func(o *Options) { o.AllowCredentials = true }), method: "POST",
		headers: map[string]string{"Origin": "https://x.example.org"}, status: 200, reached: true, vary: "Origin",
		want: map[string]string{"Access-Control-Allow-Origin": "https://x.example.org", "Access-Control-Allow-Credentials": "true"}},
	{name: "disallowed origin passes without headers", opts: base, method: "GET", headers: map[string]string{"Origin": "https://evil-example.com"},
		status: 200, reached: true, vary: "Origin", want: map[string]string{"Access-Control-Allow-Origin": "", "X-Upstream": "yes"}},
	{name: "no origin passes without headers", opts: base, method: "GET", status: 200, reached: true, vary: "Origin",
		want: map[string]string{"Access-Control-Allow-Origin": "", "Access-Control-Expose-Headers": ""}},
	{name: "any origin", opts: Options{AllowOrigins: []string{"*"}}, method: "GET", headers: map[string]string{"Origin": "https://who.ever"},
		status: 200, reached: true, vary: "", want: map[string]string{"Access-Control-Allow-Origin": "*"}},
	{name: "any origin without Origin", opts: Options{AllowOrigins: []string{"*"}, ExposeHeaders: []string{"X-A", "X-B"}}, method: "GET",
		status: 200, reached: true, vary: "", want: map[string]string{"Access-Control-Allow-Origin": "*", "Access-Control-Expose-Headers": "X-A, X-B"}},
}

// upstream stands for a proxied service that sets its own, wrong CORS
// header: the edge's policy must replace it.
func upstream(reached *atomic.Bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached.Store(true)
		w.Header().Set("Access-Control-Allow-Origin", "https://upstream.invalid")
		w.Header().Set("X-Upstream", "yes")
		_, _ = io.WriteString(w, "ok")
	})
}

func TestWrap(t *testing.T) {
	for _, tt := range exchanges {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New(tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			var reached atomic.Bool
			srv := httptest.NewServer(c.Wrap(upstream(&reached)))
			defer srv.Close()
			req, _ := http.NewRequest(tt.method, srv.URL+"/r", nil)
			for k, v := range tt.headers {
				if v != "" {
					req.Header.Set(k, v)
				}
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != tt.status || reached.Load() != tt.reached {
				t.Fatalf("status %d reached %v, want %d %v (%s)", res.StatusCode, reached.Load(), tt.status, tt.reached, body)
			}
			if got := strings.Join(res.Header.Values("Vary"), ", "); got != tt.vary {
				t.Errorf("Vary %q, want %q", got, tt.vary)
			}
			checkHeaders(t, res, body, tt.want)
		})
	}
}

func checkHeaders(t *testing.T, res *http.Response, body []byte, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if k == "message" {
			var doc struct {
				Error struct{ Code, Message string }
			}
			if err := json.Unmarshal(body, &doc); err != nil || doc.Error.Message != v || doc.Error.Code != "FORBIDDEN" {
				t.Errorf("body %s, want message %q", body, v)
			}
			continue
		}
		if got := strings.Join(res.Header.Values(k), ", "); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
}

// TestStreaming checks that the writer keeps a streamed response flowing:
// the first chunk reaches the client before the handler ends.
func TestStreaming(t *testing.T) {
	c, err := New(base)
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	srv := httptest.NewServer(c.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "first\n")
		w.(http.Flusher).Flush()
		<-release
		_, _ = io.WriteString(w, "second\n")
	})))
	defer srv.Close()
	defer close(release)
	req, _ := http.NewRequest("GET", srv.URL, nil)
	req.Header.Set("Origin", "https://app.example.com")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.Header.Get("Access-Control-Allow-Origin") != "https://app.example.com" {
		t.Fatalf("headers %v", res.Header)
	}
	buf := make([]byte, 6)
	if _, err := io.ReadFull(res.Body, buf); err != nil || string(buf) != "first\n" {
		t.Fatalf("read %q %v", buf, err)
	}
}

func BenchmarkActualRequest(b *testing.B) {
	c, err := New(base)
	if err != nil {
		b.Fatal(err)
	}
	h := c.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(200) }))
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("Origin", "https://a.example.org")
	w := &nopWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		h.ServeHTTP(w, req)
	}
}

type nopWriter struct{ h http.Header }

func (w *nopWriter) Header() http.Header         { return w.h }
func (w *nopWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *nopWriter) WriteHeader(int)             {}
