package proxy_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// seen is what the echo backend reports about the request it received.
type seen struct {
	Method     string
	Host       string
	Path       string // escaped
	RequestURI string
	Query      string
	Proto      string
	Header     http.Header
	Body       string
}

// echo answers 200 with a JSON description of the request.
func echo(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(seen{
		Method: r.Method, Host: r.Host, Path: r.URL.EscapedPath(), RequestURI: r.RequestURI,
		Query: r.URL.RawQuery, Proto: r.Proto, Header: r.Header, Body: string(body),
	})
}

// decodeSeen parses the echo backend's answer.
func decodeSeen(t *testing.T, r result) seen {
	t.Helper()
	if r.Status != 200 {
		t.Fatalf("status %d, body %q", r.Status, r.Body)
	}
	var s seen
	if err := json.Unmarshal([]byte(r.Body), &s); err != nil {
		t.Fatalf("echo body %q: %v", r.Body, err)
	}
	return s
}

// rawRequest writes head (CRLF line ends added) on a new connection to
// addr and reads one response to its end.
func rawRequest(t *testing.T, addr string, lines ...string) result {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(conn, strings.Join(lines, "\r\n")+"\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return result{Status: res.StatusCode, Header: res.Header, Trailer: res.Trailer, Body: string(body)}
}

// TestHopByHopHeaders checks RFC 9110 section 7.6.1 both ways: the
// standard hop-by-hop fields and every field named in Connection are
// dropped, end-to-end fields pass, and TE keeps only "trailers".
func TestHopByHopHeaders(t *testing.T) {
	b := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Connection", "X-Backend-Secret, keep-alive")
		h.Set("X-Backend-Secret", "v")
		h.Set("Keep-Alive", "timeout=5")
		h.Set("Proxy-Authenticate", "Basic")
		h.Set("Proxy-Connection", "keep-alive")
		h.Set("Upgrade", "foo/1")
		h.Set("X-Kept", "yes")
		echo(w, r)
	})
	g := startGateway(t, simpleConfig([]string{b.Addr}, "", ""))
	r := rawRequest(t, g.Addr,
		"GET /echo HTTP/1.1",
		"Host: example.test",
		"Connection: keep-alive, X-Secret",
		"X-Secret: s",
		"Keep-Alive: timeout=5",
		"Proxy-Connection: keep-alive",
		"Proxy-Authorization: Basic eHl6",
		"Te: trailers, deflate",
		"Upgrade: foo/1",
		"X-Keep: yes")
	s := decodeSeen(t, r)
	for _, name := range []string{"Connection", "X-Secret", "Keep-Alive", "Proxy-Connection", "Proxy-Authorization", "Upgrade", "Trailer", "Transfer-Encoding"} {
		if v, ok := s.Header[name]; ok {
			t.Errorf("upstream received hop-by-hop %s: %q", name, v)
		}
	}
	if got := s.Header.Get("Te"); got != "trailers" {
		t.Errorf("upstream Te = %q, want trailers", got)
	}
	if got := s.Header.Get("X-Keep"); got != "yes" {
		t.Errorf("upstream X-Keep = %q, want yes", got)
	}
	for _, name := range []string{"X-Backend-Secret", "Keep-Alive", "Proxy-Authenticate", "Proxy-Connection", "Upgrade"} {
		if v, ok := r.Header[name]; ok {
			t.Errorf("client received hop-by-hop %s: %q", name, v)
		}
	}
	if c := r.Header.Get("Connection"); strings.Contains(strings.ToLower(c), "x-backend-secret") {
		t.Errorf("client Connection = %q names the upstream's field", c)
	}
	if got := r.Header.Get("X-Kept"); got != "yes" {
		t.Errorf("client X-Kept = %q, want yes", got)
	}
}

// TestForwardedHeaders checks X-Forwarded-For, -Proto, -Host and Forwarded
// for a trusted and an untrusted peer (the test client is 127.0.0.1).
func TestForwardedHeaders(t *testing.T) {
	tests := []struct {
		name      string
		trusted   bool
		only      string // forwarded_headers, when set
		send      map[string]string
		wantXFF   string
		wantProto string
		wantXFH   string
		wantFwd   string
	}{
		{
			name: "untrusted peer, nothing sent", wantXFF: "127.0.0.1", wantProto: "http", wantXFH: "api.example.test",
			wantFwd: "for=127.0.0.1;host=api.example.test;proto=http",
		},
		{
			name:    "untrusted peer, forged values replaced",
			send:    map[string]string{"X-Forwarded-For": "1.2.3.4", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "evil.test", "Forwarded": "for=1.2.3.4"},
			wantXFF: "127.0.0.1", wantProto: "http", wantXFH: "api.example.test",
			wantFwd: "for=127.0.0.1;host=api.example.test;proto=http",
		},
		{
			name: "trusted peer, values appended and kept", trusted: true,
			send:    map[string]string{"X-Forwarded-For": "1.2.3.4", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "front.test", "Forwarded": "for=1.2.3.4"},
			wantXFF: "1.2.3.4, 127.0.0.1", wantProto: "https", wantXFH: "front.test",
			wantFwd: "for=1.2.3.4, for=127.0.0.1;host=api.example.test;proto=http",
		},
		{
			name: "trusted peer, nothing sent", trusted: true,
			wantXFF: "127.0.0.1", wantProto: "http", wantXFH: "api.example.test",
			wantFwd: "for=127.0.0.1;host=api.example.test;proto=http",
		},
		{
			name: "none set, untrusted peer: forged values removed", only: "[]",
			send: map[string]string{"X-Forwarded-For": "1.2.3.4", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "evil.test", "Forwarded": "for=1.2.3.4"},
		},
		{
			name: "none set, trusted peer: values passed on", trusted: true, only: "[]",
			send:    map[string]string{"X-Forwarded-For": "1.2.3.4", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "front.test", "Forwarded": "for=1.2.3.4"},
			wantXFF: "1.2.3.4", wantProto: "https", wantXFH: "front.test", wantFwd: "for=1.2.3.4",
		},
		{
			name: "X-Forwarded-For only", only: "[x-forwarded-for]",
			send:    map[string]string{"X-Forwarded-Proto": "https"},
			wantXFF: "127.0.0.1",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := newBackend(t, echo)
			extra := ""
			if tc.only != "" {
				extra = "forwarded_headers: " + tc.only
			}
			cfg := simpleConfig([]string{b.Addr}, "", extra)
			if tc.trusted {
				cfg = strings.Replace(cfg, "listeners:", "server: {trusted_proxies: [127.0.0.1]}\nlisteners:", 1)
			}
			g := startGateway(t, cfg)
			req := newRequest(t, http.MethodGet, g.URL+"/", nil)
			req.Host = "api.example.test"
			for k, v := range tc.send {
				req.Header.Set(k, v)
			}
			s := decodeSeen(t, do(t, newClient(t), req))
			check := func(name, want string) {
				t.Helper()
				if got := strings.Join(s.Header.Values(name), ", "); got != want {
					t.Errorf("%s = %q, want %q", name, got, want)
				}
			}
			check("X-Forwarded-For", tc.wantXFF)
			check("X-Forwarded-Proto", tc.wantProto)
			check("X-Forwarded-Host", tc.wantXFH)
			check("Forwarded", tc.wantFwd)
			if s.Host != "api.example.test" {
				t.Errorf("upstream Host = %q, want the client's api.example.test", s.Host)
			}
		})
	}
}

var hex32 = regexp.MustCompile(`^[0-9a-f]{32}$`)

// TestRequestID checks that an id is generated when missing or unusable,
// propagated when sane, sent upstream, and returned once to the client
// even when the upstream echoes it.
func TestRequestID(t *testing.T) {
	echoID := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Request-Id", r.Header.Get("X-Request-Id"))
		echo(w, r)
	}
	tests := []struct {
		name     string
		send     string
		handler  http.HandlerFunc
		wantSame bool // the client's id is kept
	}{
		{name: "generated when missing", handler: echo},
		{name: "propagated when sane", send: "abc-123.XYZ_9", handler: echo, wantSame: true},
		{name: "replaced when too long", send: strings.Repeat("a", 129), handler: echo},
		{name: "replaced when it has a quote", send: `abc"def`, handler: echo},
		{name: "returned once when the upstream echoes it", send: "echoed-1", handler: echoID, wantSame: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := newBackend(t, tc.handler)
			g := startGateway(t, simpleConfig([]string{b.Addr}, "", ""))
			req := newRequest(t, http.MethodGet, g.URL+"/", nil)
			if tc.send != "" {
				req.Header.Set("X-Request-Id", tc.send)
			}
			r := do(t, newClient(t), req)
			s := decodeSeen(t, r)
			ids := r.Header.Values("X-Request-Id")
			if len(ids) != 1 {
				t.Fatalf("client got X-Request-Id %q, want exactly one", ids)
			}
			id := ids[0]
			if tc.wantSame && id != tc.send {
				t.Errorf("id = %q, want the client's %q", id, tc.send)
			}
			if !tc.wantSame && !hex32.MatchString(id) {
				t.Errorf("id = %q, want 32 lower-case hex characters", id)
			}
			if up := s.Header.Values("X-Request-Id"); len(up) != 1 || up[0] != id {
				t.Errorf("upstream got X-Request-Id %q, want [%s]", up, id)
			}
		})
	}
}

// TestRequestIDsAreUnique checks generated ids differ between requests.
func TestRequestIDsAreUnique(t *testing.T) {
	b := newBackend(t, named("ok"))
	g := startGateway(t, simpleConfig([]string{b.Addr}, "", ""))
	c := newClient(t)
	ids := map[string]bool{}
	for range 20 {
		id := get(t, c, g.URL+"/").Header.Get("X-Request-Id")
		if ids[id] || !hex32.MatchString(id) {
			t.Fatalf("id %q repeated or malformed", id)
		}
		ids[id] = true
	}
}

// TestHeaderChanges checks a route's request_headers and response_headers
// (remove, then set, then add) and that Host is preserved.
func TestHeaderChanges(t *testing.T) {
	b := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Resp-Set", "old")
		h.Set("X-Resp-Add", "first")
		h.Set("X-Internal", "secret")
		echo(w, r)
	})
	cfg := fmt.Sprintf(`admin: {address: "off"}
listeners:
  - name: web
    address: 127.0.0.1:0
upstreams:
  app: {endpoints: [%s]}
routes:
  - match: {prefix: /}
    proxy: {upstream: app}
    request_headers:
      set: {X-Set: new}
      add: {X-Add: second}
      remove: [X-Remove, x-remove-lower]
    response_headers:
      set: {X-Resp-Set: new}
      add: {X-Resp-Add: second}
      remove: [x-internal]
`, b.Addr)
	g := startGateway(t, cfg)
	req := newRequest(t, http.MethodGet, g.URL+"/", nil)
	req.Host = "svc.example.test:8443"
	req.Header.Set("X-Set", "old")
	req.Header.Set("X-Add", "first")
	req.Header.Set("X-Remove", "x")
	req.Header.Set("X-Remove-Lower", "y")
	r := do(t, newClient(t), req)
	s := decodeSeen(t, r)
	if s.Host != "svc.example.test:8443" {
		t.Errorf("upstream Host = %q, want svc.example.test:8443", s.Host)
	}
	if got := s.Header.Values("X-Set"); !slices.Equal(got, []string{"new"}) {
		t.Errorf("upstream X-Set = %q", got)
	}
	if got := s.Header.Values("X-Add"); !slices.Equal(got, []string{"first", "second"}) {
		t.Errorf("upstream X-Add = %q", got)
	}
	if _, ok := s.Header["X-Remove"]; ok {
		t.Error("upstream got X-Remove")
	}
	if _, ok := s.Header["X-Remove-Lower"]; ok {
		t.Error("upstream got X-Remove-Lower")
	}
	if got := r.Header.Values("X-Resp-Set"); !slices.Equal(got, []string{"new"}) {
		t.Errorf("client X-Resp-Set = %q", got)
	}
	if got := r.Header.Values("X-Resp-Add"); !slices.Equal(got, []string{"first", "second"}) {
		t.Errorf("client X-Resp-Add = %q", got)
	}
	if _, ok := r.Header["X-Internal"]; ok {
		t.Error("client got X-Internal")
	}
}
