package l7_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bouncer-proxy/bouncer/configs"
)

const echoRoutes = `  - name: api
    match: {prefix: /api/}
    proxy: {upstream: app}
  - name: home
    match: {path: /}
    respond: {status: 200, body: home}
`

// errorJSON is the gateway's error body, decoded strictly.
type errorJSON struct {
	Error struct {
		Status    int    `json:"status"`
		Code      string `json:"code"`
		Message   string `json:"message"`
		RequestID string `json:"request_id"`
	} `json:"error"`
}

func checkErrorBody(t *testing.T, r gwResult, status int, code, idHeader string) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d: %s", r.Status, status, r.Body)
	}
	if r.Header.Get("Content-Type") != "application/json" || r.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("error headers %v", r.Header)
	}
	dec := json.NewDecoder(strings.NewReader(r.Body))
	dec.DisallowUnknownFields()
	var e errorJSON
	if err := dec.Decode(&e); err != nil {
		t.Fatalf("error body %q: %v", r.Body, err)
	}
	if e.Error.Status != status || e.Error.Code != code || e.Error.Message == "" {
		t.Errorf("error %+v, want %d %s", e.Error, status, code)
	}
	if id := r.Header.Get(idHeader); id == "" || e.Error.RequestID != id {
		t.Errorf("request_id %q, %s %q", e.Error.RequestID, idHeader, id)
	}
}

// TestGatewayErrors checks the errors the gateway itself produces.
func TestGatewayErrors(t *testing.T) {
	g := startTestGateway(t, gatewayConfig("max_request_body_bytes: 8", echoRoutes), gatewayOptions{})
	c := client(t)
	tests := []struct {
		name   string
		method string
		path   string
		body   string
		status int
		code   string
	}{
		{"no route", "GET", "/nothing/here", "", 404, "NOT_FOUND"},
		{"no route for the method's path", "POST", "/other", "", 404, "NOT_FOUND"},
		{"NUL escape in path", "GET", "/api/%00", "", 400, "BAD_REQUEST"},
		{"dot-dot above the root", "GET", "/api/../../x", "", 400, "BAD_REQUEST"},
		{"declared body over the limit", "POST", "/api/x", "123456789", 413, "PAYLOAD_TOO_LARGE"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var body *strings.Reader
			if tc.body != "" {
				body = strings.NewReader(tc.body)
			}
			var r gwResult
			if body != nil {
				r = send(t, c, tc.method, g.URL+tc.path, body)
			} else {
				r = send(t, c, tc.method, g.URL+tc.path, nil)
			}
			checkErrorBody(t, r, tc.status, tc.code, "X-Request-Id")
		})
	}
	t.Run("HEAD gets headers only", func(t *testing.T) {
		r := send(t, c, http.MethodHead, g.URL+"/nothing", nil)
		if r.Status != 404 || r.Body != "" {
			t.Errorf("HEAD = %d %q", r.Status, r.Body)
		}
	})
	t.Run("body within the limit passes", func(t *testing.T) {
		if e := decodeEchoed(t, send(t, c, "POST", g.URL+"/api/x", strings.NewReader("12345678"))); e.Body != "12345678" {
			t.Errorf("body %q", e.Body)
		}
	})
}

// TestPathNormalization checks that the route and the terminal see the
// normalized path, so dot segments and doubled slashes cannot dodge a
// route.
func TestPathNormalization(t *testing.T) {
	g := startTestGateway(t, gatewayConfig("", echoRoutes), gatewayOptions{})
	c := client(t)
	tests := []struct{ sent, want string }{
		{"/api/./v1//x/../y", "/api/v1/y"},
		{"/x/../api/users", "/api/users"},
		{"/api/%7Euser/%61", "/api/~user/a"},
		{"/api/a%2fb", "/api/a%2Fb"},
	}
	for _, tc := range tests {
		e := decodeEchoed(t, send(t, c, "GET", g.URL+tc.sent, nil))
		if e.Path != tc.want || e.Route != "api" {
			t.Errorf("%s: terminal saw %q on route %q, want %q on api", tc.sent, e.Path, e.Route, tc.want)
		}
	}
}

// TestEscapedSlashes: server.escaped_slashes keeps %2F inside its segment
// (the default), refuses it, or makes it a separator before matching.
func TestEscapedSlashes(t *testing.T) {
	routes := echoRoutes + "  - name: admin\n    match: {prefix: /api/admin/}\n    respond: {status: 403, body: guarded}\n"
	for _, tc := range []struct {
		mode       string
		wantStatus int
		wantPath   string // as the terminal saw it (echo route)
	}{
		{"keep", 200, "/api/admin%2Fx"},
		{"reject", 400, ""},
		{"unescape", 403, ""}, // now /api/admin/x: the guarding route takes it
	} {
		t.Run(tc.mode, func(t *testing.T) {
			g := startTestGateway(t, gatewayConfig("escaped_slashes: "+tc.mode, routes), gatewayOptions{})
			r := send(t, client(t), "GET", g.URL+"/api/admin%2fx", nil)
			if r.Status != tc.wantStatus {
				t.Fatalf("status %d %s, want %d", r.Status, r.Body, tc.wantStatus)
			}
			if tc.wantPath != "" {
				if e := decodeEchoed(t, r); e.Path != tc.wantPath {
					t.Errorf("terminal saw %q, want %q", e.Path, tc.wantPath)
				}
			}
			if tc.mode == "reject" && !strings.Contains(r.Body, `"code":"BAD_REQUEST"`) {
				t.Errorf("body %s, want the JSON error", r.Body)
			}
		})
	}
}

var hex32 = regexp.MustCompile(`^[0-9a-f]{32}$`)

// TestRequestIDHeader checks generation, propagation and replacement of
// the request id under a configured header name.
func TestRequestIDHeader(t *testing.T) {
	g := startTestGateway(t, gatewayConfig("request_id_header: X-Trace-Id", echoRoutes), gatewayOptions{})
	c := client(t)
	tests := []struct {
		name, sent string
		keep       bool
	}{
		{"generated", "", false},
		{"propagated", "trace-42", true},
		{"replaced when it has a space", "a b", false},
		{"replaced when non-ASCII", "caf\u00e9", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var hdr []string
			if tc.sent != "" {
				hdr = []string{"X-Trace-Id", tc.sent}
			}
			r := send(t, c, "GET", g.URL+"/api/x", nil, hdr...)
			e := decodeEchoed(t, r)
			id := r.Header.Get("X-Trace-Id")
			if tc.keep && id != tc.sent || !tc.keep && !hex32.MatchString(id) {
				t.Errorf("response id %q (sent %q)", id, tc.sent)
			}
			if e.RequestID != id || e.Header.Get("X-Trace-Id") != id {
				t.Errorf("terminal saw id %q / header %q, want %q", e.RequestID, e.Header.Get("X-Trace-Id"), id)
			}
			if _, ok := r.Header["X-Request-Id"]; ok {
				t.Error("default header set although another is configured")
			}
		})
	}
	t.Run("in error bodies", func(t *testing.T) {
		checkErrorBody(t, send(t, c, "GET", g.URL+"/none", nil, "X-Trace-Id", "err-1"), 404, "NOT_FOUND", "X-Trace-Id")
	})
}

// syncBuffer is a bytes.Buffer safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) lines() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(s.b.Bytes()))
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out
}

// TestAccessLog checks one structured line per request with the fields
// operators rely on.
func TestAccessLog(t *testing.T) {
	var buf syncBuffer
	g := startTestGateway(t, gatewayConfig("", echoRoutes), gatewayOptions{accessLog: &buf})
	c := client(t)
	ok := send(t, c, "GET", g.URL+"/?q=1", nil, "Host", "site.test")
	miss := send(t, c, "DELETE", g.URL+"/missing", nil)
	deadline := time.Now().Add(5 * time.Second)
	for len(buf.lines()) < 2 && time.Now().Before(deadline) {
		time.Sleep(2 * time.Millisecond)
	}
	lines := buf.lines()
	if len(lines) != 2 {
		t.Fatalf("access log has %d lines, want 2:\n%s", len(lines), strings.Join(lines, "\n"))
	}
	want := []map[string]any{
		{"request_id": ok.Header.Get("X-Request-Id"), "listener": "web", "client": "127.0.0.1", "method": "GET",
			"host": "site.test", "path": "/?q=1", "proto": "HTTP/1.1", "status": 200.0, "route": "home", "bytes_out": 4.0},
		{"request_id": miss.Header.Get("X-Request-Id"), "method": "DELETE", "path": "/missing", "status": 404.0, "route": "-"},
	}
	for i, line := range lines {
		var got map[string]any
		if err := json.Unmarshal([]byte(line), &got); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		for k, v := range want[i] {
			if got[k] != v {
				t.Errorf("line %d: %s = %v, want %v", i, k, got[k], v)
			}
		}
		if _, ok := got["duration_ms"]; !ok {
			t.Errorf("line %d has no duration_ms", i)
		}
	}
	if !strings.Contains(lines[1], `"error"`) {
		t.Errorf("404 line does not carry the error: %s", lines[1])
	}
}

// TestRequestMetrics checks the per-route request counter by status class.
func TestRequestMetrics(t *testing.T) {
	g := startTestGateway(t, gatewayConfig("", echoRoutes), gatewayOptions{})
	c := client(t)
	for range 3 {
		send(t, c, "GET", g.URL+"/", nil)
	}
	send(t, c, "GET", g.URL+"/missing", nil)
	count := func(route, code string) float64 {
		mfs, err := g.Metrics.Registry.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() != "bouncer_http_requests_total" {
				continue
			}
			for _, m := range mf.GetMetric() {
				labels := map[string]string{}
				for _, lp := range m.GetLabel() {
					labels[lp.GetName()] = lp.GetValue()
				}
				if labels["route"] == route && labels["code"] == code && labels["listener"] == "web" {
					return m.GetCounter().GetValue()
				}
			}
		}
		return 0
	}
	deadline := time.Now().Add(5 * time.Second)
	for (count("home", "2xx") < 3 || count("-", "4xx") < 1) && time.Now().Before(deadline) {
		time.Sleep(2 * time.Millisecond)
	}
	if got := count("home", "2xx"); got != 3 {
		t.Errorf("home 2xx = %v, want 3", got)
	}
	if got := count("-", "4xx"); got != 1 {
		t.Errorf("unrouted 4xx = %v, want 1", got)
	}
}

// TestSnapshotSwap checks that a swapped-in generation serves the next
// request and that Swap returns the one it replaced.
func TestSnapshotSwap(t *testing.T) {
	v1 := gatewayConfig("", "  - match: {path: /}\n    respond: {body: v1}\n")
	g := startTestGateway(t, v1, gatewayOptions{})
	c := client(t)
	if r := send(t, c, "GET", g.URL+"/", nil); r.Body != "v1" {
		t.Fatalf("body %q", r.Body)
	}
	cfg2, err := configs.Parse([]byte(gatewayConfig("", "  - match: {path: /}\n    respond: {body: v2}\n")), "v2.yaml")
	if err != nil {
		t.Fatal(err)
	}
	old := g.GW.Snapshot()
	next := compileSnapshot(t, cfg2)
	if prev := g.GW.Swap(next); prev != old {
		t.Error("Swap did not return the previous snapshot")
	}
	if r := send(t, c, "GET", g.URL+"/", nil); r.Body != "v2" {
		t.Errorf("after swap body %q, want v2", r.Body)
	}
}

// TestServerProtocols checks that a listener serves only the protocols it
// lists: h2c prior knowledge is refused on an http1-only listener.
func TestServerProtocols(t *testing.T) {
	cfg := strings.Replace(gatewayConfig("", echoRoutes), "    address: 127.0.0.1:0\n", "    address: 127.0.0.1:0\n    protocols: [http1]\n", 1)
	g := startTestGateway(t, cfg, gatewayOptions{})
	if r := send(t, client(t), "GET", g.URL+"/", nil); r.Status != 200 {
		t.Fatalf("http1 status %d", r.Status)
	}
	conn, err := net.Dial("tcp", g.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprint(conn, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
	buf := make([]byte, 64)
	n, _ := conn.Read(buf)
	if bytes.HasPrefix(buf[:n], []byte{0, 0}) { // an HTTP/2 SETTINGS frame header
		t.Errorf("http1-only listener answered the h2c preface with HTTP/2: % x", buf[:n])
	}
}

// A Host with characters no host name has (#, @, <, space) is a 400 with
// the JSON error, before any route sees it; a normal one is served.
func TestBadHostRefused(t *testing.T) {
	g := startTestGateway(t, gatewayConfig("", echoRoutes), gatewayOptions{})
	ask := func(host string) string {
		conn, err := net.Dial("tcp", g.Addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
		fmt.Fprintf(conn, "GET / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", host)
		b, _ := io.ReadAll(conn)
		return string(b)
	}
	for _, host := range []string{"evil.test#.example.com", "user@a.example.com", "a<b", "a\"b"} {
		if got := ask(host); !strings.HasPrefix(got, "HTTP/1.1 400") || !strings.Contains(got, `"code":"BAD_REQUEST"`) {
			t.Errorf("Host %q: %.120q, want a JSON 400", host, got)
		}
	}
	if got := ask("a.example.com:8080"); !strings.HasPrefix(got, "HTTP/1.1 200") {
		t.Errorf("a valid Host: %.120q", got)
	}
}
