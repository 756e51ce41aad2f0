package h1

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func echoBody(w http.ResponseWriter, r *http.Request) {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	_, _ = w.Write(b)
}

func TestKeepAlive(t *testing.T) {
	ignoreBody := func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "done") }
	tests := []struct {
		name    string
		handler http.HandlerFunc
		req     string
		body    string
		closed  bool
		connHdr string
	}{
		{"http/1.1 default", echoBody, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc", "abc", false, ""},
		{"connection close", echoBody, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "", true, "close"},
		{"http/1.0", echoBody, "GET / HTTP/1.0\r\n\r\n", "", true, "close"},
		{"http/1.0 keep-alive", echoBody, "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", "", false, "keep-alive"},
		{"handler closes", func(w http.ResponseWriter, r *http.Request) { w.Header().Set("Connection", "close") },
			"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "", true, "close"},
		{"small unread body drained", ignoreBody,
			"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello", "done", false, ""},
		{"small unread chunked body drained", ignoreBody,
			"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", "done", false, ""},
		{"large unread body closes", ignoreBody,
			"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\nhello", "done", true, "close"},
		{"expect without read closes", ignoreBody,
			"POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n", "done", true, "close"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, addr := startServer(t, tt.handler, nil)
			c := dial(t, addr)
			c.send(tt.req)
			res, body := c.read("GET")
			conn := res.Header.Get("Connection") // net/http removes "close" and sets Close
			if res.Close {
				conn = "close"
			}
			if body != tt.body || conn != tt.connHdr {
				t.Fatalf("got %q Connection %q, want %q %q", body, conn, tt.body, tt.connHdr)
			}
			if tt.closed {
				if !c.closed() {
					t.Fatal("connection kept")
				}
				return
			}
			c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
			if res, _ := c.read("GET"); res.StatusCode != http.StatusOK {
				t.Fatalf("second request: %d", res.StatusCode)
			}
		})
	}
}

func TestExpectContinue(t *testing.T) {
	_, addr := startServer(t, http.HandlerFunc(echoBody), nil)
	c := dial(t, addr)
	c.send("POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n")
	line, err := c.br.ReadString('\n')
	if err != nil || line != "HTTP/1.1 100 Continue\r\n" {
		t.Fatalf("got %q, %v", line, err)
	}
	if line, _ = c.br.ReadString('\n'); line != "\r\n" {
		t.Fatalf("got %q", line)
	}
	c.send("abc")
	if res, body := c.read("POST"); res.StatusCode != 200 || body != "abc" {
		t.Fatalf("got %d %q", res.StatusCode, body)
	}
}

func TestHijack(t *testing.T) {
	_, addr := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusSwitchingProtocols)
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			panic(err)
		}
		defer conn.Close()
		line, err := brw.ReadString('\n') // may already be buffered with the request
		if err != nil {
			return
		}
		_, _ = brw.WriteString("echo " + line)
		_ = brw.Flush()
	}), nil)
	c := dial(t, addr)
	c.send("GET / HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: test\r\n\r\nping\n")
	res, err := http.ReadResponse(c.br, nil)
	if err != nil || res.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("got %v, %v", res, err)
	}
	line, err := c.br.ReadString('\n')
	if err != nil || line != "echo ping\n" {
		t.Fatalf("got %q, %v", line, err)
	}
}

func TestPanics(t *testing.T) {
	for _, p := range []any{http.ErrAbortHandler, "boom"} {
		_, addr := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, "partial")
			panic(p)
		}), nil)
		c := dial(t, addr)
		c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		if !c.closed() {
			t.Fatalf("%v: connection not closed silently", p)
		}
	}
}

func TestClientGoneCancelsContext(t *testing.T) {
	canceled := make(chan error, 1)
	started := make(chan struct{})
	_, addr := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		select {
		case <-r.Context().Done():
			canceled <- r.Context().Err()
		case <-time.After(5 * time.Second):
			canceled <- nil
		}
	}), nil)
	c := dial(t, addr)
	c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	<-started
	_ = c.c.Close()
	if err := <-canceled; err != context.Canceled {
		t.Fatalf("context: %v", err)
	}
}

// TestSlowPipelined checks that the byte taken by the background read of
// a slow handler reaches the next request.
func TestSlowPipelined(t *testing.T) {
	_, addr := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			<-time.After(3 * slowAfter) // slow work, long enough for the background read
		}
		_, _ = io.WriteString(w, r.URL.Path)
	}), nil)
	c := dial(t, addr)
	c.send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
	<-time.After(slowAfter) // the second request arrives while the first is slow
	c.send("GET /next HTTP/1.1\r\nHost: x\r\n\r\n")
	for _, want := range []string{"/slow", "/next"} {
		if _, body := c.read("GET"); body != want {
			t.Fatalf("got %q, want %q", body, want)
		}
	}
}

func TestKeepAlivesOff(t *testing.T) {
	release := make(chan struct{})
	s, addr := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/busy" {
			<-release
		}
	}), nil)
	idle, busy, fresh := dial(t, addr), dial(t, addr), dial(t, addr)
	idle.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	idle.read("GET")
	busy.send("GET /busy HTTP/1.1\r\nHost: x\r\n\r\n")
	waitFor(t, "states", func() bool { return countStates(s, stateIdle) == 1 && countStates(s, stateActive) == 1 })
	s.SetKeepAlivesEnabled(false)
	if !idle.closed() {
		t.Fatal("idle connection kept")
	}
	close(release)
	if res, _ := busy.read("GET"); !res.Close || !busy.closed() {
		t.Fatal("busy connection kept")
	}
	fresh.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	if res, _ := fresh.read("GET"); res.StatusCode != 200 || !fresh.closed() {
		t.Fatal("first request of a new connection not served, or connection kept")
	}
}

func countStates(s *Server, st connState) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for c := range s.conns {
		if c.state == st {
			n++
		}
	}
	return n
}

func TestHeadTooLarge(t *testing.T) {
	_, addr := startServer(t, http.HandlerFunc(echoBody), func(s *Server) { s.MaxHeaderBytes = 1024 })
	c := dial(t, addr)
	c.send("GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 8<<10) + "\r\n\r\n")
	res, err := http.ReadResponse(bufio.NewReader(c.br), nil)
	if err != nil || res.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("got %v, %v", res, err)
	}
	var doc struct {
		Error struct {
			Status int    `json:"status"`
			Code   string `json:"code"`
		} `json:"error"`
	}
	if err := json.NewDecoder(res.Body).Decode(&doc); err != nil || doc.Error.Status != 431 || doc.Error.Code != "REQUEST_HEADER_FIELDS_TOO_LARGE" || res.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("body: %+v, %v (Content-Type %q)", doc, err, res.Header.Get("Content-Type"))
	}
}

func TestFlushStreams(t *testing.T) {
	next := make(chan struct{})
	_, addr := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, "data: 1\n\n")
		w.(http.Flusher).Flush()
		<-next
		_, _ = io.WriteString(w, "data: 2\n\n")
	}), nil)
	c := dial(t, addr)
	c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	res, err := http.ReadResponse(c.br, nil)
	if err != nil {
		t.Fatal(err)
	}
	first := make([]byte, len("data: 1\n\n"))
	if _, err := io.ReadFull(res.Body, first); err != nil || string(first) != "data: 1\n\n" {
		t.Fatalf("first event %q, %v", first, err)
	}
	close(next)
	if rest, err := io.ReadAll(res.Body); err != nil || string(rest) != "data: 2\n\n" {
		t.Fatalf("rest %q, %v", rest, err)
	}
}

// TestClientGoneAfterBody covers the background read started when a slow
// handler finishes reading its body.
func TestClientGoneAfterBody(t *testing.T) {
	canceled := make(chan error, 1)
	read := make(chan struct{})
	_, addr := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-time.After(2 * slowAfter) // slow before the body is consumed
		_, _ = io.ReadAll(r.Body)
		close(read)
		select {
		case <-r.Context().Done():
			canceled <- r.Context().Err()
		case <-time.After(5 * time.Second):
			canceled <- nil
		}
	}), nil)
	c := dial(t, addr)
	c.send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi")
	<-read
	_ = c.c.Close()
	if err := <-canceled; err != context.Canceled {
		t.Fatalf("context: %v", err)
	}
}

func TestHeaderTimeoutClosesSilentConn(t *testing.T) {
	_, addr := startServer(t, http.HandlerFunc(echoBody), func(s *Server) { s.ReadHeaderTimeout = 20 * time.Millisecond })
	c := dial(t, addr)
	if !c.closed() {
		t.Fatal("silent connection kept")
	}
}
