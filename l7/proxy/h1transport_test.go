package proxy_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// rawBackend accepts connections on a loopback port and runs serve on
// each (n counts connections from 0); the connection is closed when serve
// returns, the listener at test end.
func rawBackend(t *testing.T, serve func(c net.Conn, br *bufio.Reader, n int)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { _ = ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for n := 0; ; n++ {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(10 * time.Second))
				serve(c, bufio.NewReader(c), n)
			}()
		}
	}()
	return ln.Addr().String()
}

// readRequest reads one request head and its body; ok false at EOF.
func readRequest(br *bufio.Reader) (*http.Request, string, bool) {
	req, err := http.ReadRequest(br)
	if err != nil {
		return nil, "", false
	}
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return nil, "", false
	}
	return req, string(body), true
}

// openConns counts a backend's connections that are open.
func openConns(b *backend) *atomic.Int64 {
	var open atomic.Int64
	b.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		switch s {
		case http.StateNew:
			b.Conns.Add(1)
			open.Add(1)
		case http.StateClosed, http.StateHijacked:
			open.Add(-1)
		}
	}
	return &open
}

// TestH1KeepAliveReuse checks that 50 sequential requests of each kind
// share one upstream connection: bodiless GETs, responses without a body
// (HEAD, 204, 304), chunked ones, and POSTs with known and unknown length.
func TestH1KeepAliveReuse(t *testing.T) {
	b := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		switch r.URL.Path {
		case "/204":
			w.WriteHeader(http.StatusNoContent)
		case "/304":
			w.WriteHeader(http.StatusNotModified)
		case "/chunked":
			_, _ = io.WriteString(w, "part1")
			http.NewResponseController(w).Flush()
			_, _ = io.WriteString(w, "part2")
		default:
			w.Header().Set("Content-Length", fmt.Sprint(len(body)+2))
			_, _ = io.WriteString(w, "ok"+string(body))
		}
	})
	g := startGateway(t, simpleConfig([]string{b.Addr}, "", ""))
	c := newClient(t)
	tests := []struct {
		method, path string
		body         io.Reader
		status       int
		want         string
	}{
		{"GET", "/", nil, 200, "ok"},
		{"HEAD", "/", nil, 200, ""},
		{"GET", "/204", nil, 204, ""},
		{"GET", "/304", nil, 304, ""},
		{"GET", "/chunked", nil, 200, "part1part2"},
		{"POST", "/", strings.NewReader("body"), 200, "okbody"},
		{"POST", "/", io.MultiReader(strings.NewReader("unknown length")), 200, "okunknown length"},
	}
	for i := range 50 {
		tc := tests[i%len(tests)]
		if s, ok := tc.body.(*strings.Reader); ok {
			s.Reset("body")
		} else if tc.body != nil {
			tc.body = io.MultiReader(strings.NewReader("unknown length"))
		}
		r := do(t, c, newRequest(t, tc.method, g.URL+tc.path, tc.body))
		if r.Status != tc.status || r.Body != tc.want {
			t.Fatalf("%s %s = %d %q, want %d %q", tc.method, tc.path, r.Status, r.Body, tc.status, tc.want)
		}
	}
	if n := b.Conns.Load(); n != 1 {
		t.Errorf("upstream connections = %d for 50 sequential requests, want 1", n)
	}
}

// TestH1PoolLimits checks max_idle_per_endpoint (the connections past it
// are closed once their exchange ends) and idle_timeout (idle connections
// are closed by the pool without any request coming).
func TestH1PoolLimits(t *testing.T) {
	bl := newBlocker()
	defer bl.unblock()
	b := newUnstarted(bl)
	open := openConns(b)
	b.Start()
	t.Cleanup(b.Close)
	g := startGateway(t, simpleConfig([]string{b.Listener.Addr().String()},
		"max_idle_per_endpoint: 2\nidle_timeout: 300ms", ""))
	c := newClient(t)
	const n = 6
	done := make(chan int, n)
	for range n {
		go func() {
			res, err := c.Get(g.URL + "/")
			if err != nil {
				done <- -1
				return
			}
			_, _ = io.Copy(io.Discard, res.Body)
			_ = res.Body.Close()
			done <- res.StatusCode
		}()
	}
	for range n {
		recv(t, bl.entered, 5*time.Second, "the requests to reach the backend")
	}
	bl.unblock()
	for range n {
		if s := recv(t, done, 5*time.Second, "a response"); s != 200 {
			t.Fatalf("status %d", s)
		}
	}
	// Both conditions are polled: the pool acts when exchanges end and
	// when the idle timeout passes, on its own goroutines.
	waitFor(t, 5*time.Second, "the idle pool to shrink to 2", func() bool { return open.Load() == 2 })
	waitFor(t, 5*time.Second, "idle connections to time out", func() bool { return open.Load() == 0 })
	if got := b.Conns.Load(); got != n {
		t.Errorf("backend connections = %d, want %d", got, n)
	}
}

// TestH1StaleConnection checks that a request does not fail when the
// pooled connection went stale: closed by the backend while idle (found
// before the request is written), or closed on receipt of the request
// without an answer (retried on a new connection when the request can be
// replayed, as net/http does; a POST is not).
func TestH1StaleConnection(t *testing.T) {
	t.Run("closed while idle", func(t *testing.T) {
		b := newBackend(t, named("ok"))
		g := startGateway(t, simpleConfig([]string{b.Addr}, "", ""))
		c := newClient(t)
		for i, method := range []string{"GET", "POST", "GET", "POST"} {
			if r := do(t, c, newRequest(t, method, g.URL+"/", nil)); r.Status != 200 {
				t.Fatalf("request %d (%s) = %d %q", i, method, r.Status, r.Body)
			}
			b.CloseClientConnections()
		}
	})
	t.Run("closed on the next request", func(t *testing.T) {
		addr := rawBackend(t, func(c net.Conn, br *bufio.Reader, _ int) {
			req, _, ok := readRequest(br)
			if !ok {
				return
			}
			if req.Method == http.MethodHead {
				_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n")
			} else {
				_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
			}
			_, _, _ = readRequest(br) // then close without an answer
		})
		g := startGateway(t, simpleConfig([]string{addr}, "", ""))
		c := newClient(t)
		for i, tc := range []struct {
			method string
			want   int
		}{{"GET", 200}, {"GET", 200}, {"HEAD", 200}, {"POST", 502}} {
			if r := do(t, c, newRequest(t, tc.method, g.URL+"/", nil)); r.Status != tc.want {
				t.Fatalf("request %d (%s) = %d %q, want %d", i, tc.method, r.Status, r.Body, tc.want)
			}
		}
	})
}

// TestH1ConnectionClose checks that a response that does not allow
// keep-alive ends its connection: Connection: close, HTTP/1.0 without
// keep-alive, a body delimited by the close.
func TestH1ConnectionClose(t *testing.T) {
	tests := []struct{ name, head string }{
		{"connection close", "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok"},
		{"http/1.0", "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok"},
		{"body until close", "HTTP/1.1 200 OK\r\n\r\nok"},
	}
	for _, tc := range tests {
		head := tc.head
		t.Run(tc.name, func(t *testing.T) {
			var conns atomic.Int64
			addr := rawBackend(t, func(c net.Conn, br *bufio.Reader, _ int) {
				conns.Add(1)
				for {
					if _, _, ok := readRequest(br); !ok {
						return
					}
					if _, err := io.WriteString(c, head); err != nil || strings.Contains(head, "200 OK\r\n\r\n") {
						return
					}
				}
			})
			g := startGateway(t, simpleConfig([]string{addr}, "", ""))
			c := newClient(t)
			for range 3 {
				if r := get(t, c, g.URL+"/"); r.Status != 200 || r.Body != "ok" {
					t.Fatalf("got %d %q", r.Status, r.Body)
				}
			}
			if n := conns.Load(); n != 3 {
				t.Errorf("upstream connections = %d, want 3 (one per request)", n)
			}
		})
	}
}

// TestH1RequestHead checks what reaches the upstream: the request line
// with the path and query, Host, the framing of the body, the client's
// fields, and nothing the transport made up.
func TestH1RequestHead(t *testing.T) {
	heads := make(chan string, 4)
	addr := rawBackend(t, func(c net.Conn, br *bufio.Reader, _ int) {
		for {
			var head strings.Builder
			for {
				line, err := br.ReadString('\n')
				if err != nil {
					return
				}
				head.WriteString(line)
				if line == "\r\n" {
					break
				}
			}
			req, _ := http.ReadRequest(bufio.NewReader(strings.NewReader(head.String())))
			body := ""
			if req != nil && req.ContentLength > 0 {
				buf := make([]byte, req.ContentLength)
				_, _ = io.ReadFull(br, buf)
				body = string(buf)
			}
			heads <- head.String() + body
			_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
		}
	})
	g := startGateway(t, simpleConfig([]string{addr}, "", ""))
	c := newClient(t)
	req := newRequest(t, "PUT", g.URL+"/a%20b/c?x=1&y=%2F", strings.NewReader("data"))
	req.Host = "example.test"
	req.Header.Set("User-Agent", "tester")
	req.Header.Set("X-Custom", "v1")
	if r := do(t, c, req); r.Status != 200 {
		t.Fatalf("status %d", r.Status)
	}
	head := recv(t, heads, 5*time.Second, "the request head")
	lines := strings.Split(head, "\r\n")
	if lines[0] != "PUT /a%20b/c?x=1&y=%2F HTTP/1.1" {
		t.Errorf("request line %q", lines[0])
	}
	for _, want := range []string{"\r\nHost: example.test\r\n", "\r\nContent-Length: 4\r\n", "\r\nUser-Agent: tester\r\n", "\r\nX-Custom: v1\r\n", "\r\n\r\ndata"} {
		if !strings.Contains(head, want) {
			t.Errorf("head lacks %q:\n%s", want, head)
		}
	}
	for _, never := range []string{"Transfer-Encoding", "Connection", "Go-http-client"} {
		if strings.Contains(head, never) {
			t.Errorf("head has %s:\n%s", never, head)
		}
	}
}

// TestH1Concurrent runs GETs and POSTs with bodies from many clients at
// once, for the race detector and the pool's bookkeeping.
func TestH1Concurrent(t *testing.T) {
	b := newBackend(t, echoBody)
	g := startGateway(t, simpleConfig([]string{b.Addr}, "max_idle_per_endpoint: 4", ""))
	c := newClient(t)
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for w := range 8 {
		wg.Go(func() {
			for i := range 30 {
				want := fmt.Sprintf("w%d-r%d", w, i)
				req, _ := http.NewRequest(http.MethodPost, g.URL+"/", strings.NewReader(want))
				if i%2 == 0 {
					req, _ = http.NewRequest(http.MethodPost, g.URL+"/", io.MultiReader(strings.NewReader(want)))
				}
				res, err := c.Do(req)
				if err != nil {
					errs <- err.Error()
					return
				}
				body, _ := io.ReadAll(res.Body)
				_ = res.Body.Close()
				if res.StatusCode != 200 || string(body) != want {
					errs <- fmt.Sprintf("got %d %q, want %q", res.StatusCode, body, want)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

// TestH1TLSReuse checks that an upstream over TLS keeps one connection
// for sequential requests (the lean transport does the TLS itself).
func TestH1TLSReuse(t *testing.T) {
	b := newUnstarted(http.HandlerFunc(protoEcho))
	b.StartTLS()
	t.Cleanup(b.Close)
	g := startGateway(t, simpleConfig([]string{b.Listener.Addr().String()},
		"protocol: http1\ntls: {ca_file: "+writeCA(t, b.Certificate())+"}", ""))
	c := newClient(t)
	for range 10 {
		if r := get(t, c, g.URL+"/"); r.Status != 200 || r.Body != "1 tls=true" {
			t.Fatalf("got %d %q", r.Status, r.Body)
		}
	}
	if n := b.Conns.Load(); n != 1 {
		t.Errorf("upstream connections = %d for 10 sequential requests, want 1", n)
	}
}
