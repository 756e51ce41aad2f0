package proxy_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// answerWith is a raw backend that answers every request with resp.
func answerWith(resp string) func(net.Conn, *bufio.Reader, int) {
	return func(c net.Conn, br *bufio.Reader, _ int) {
		for {
			if _, _, ok := readRequest(br); !ok {
				return
			}
			if _, err := io.WriteString(c, resp); err != nil {
				return
			}
		}
	}
}

// TestH1ResponseHeads sends exact response bytes through the gateway:
// malformed or ambiguous heads are answered 502 and never passed on;
// lenient but unambiguous forms are accepted.
func TestH1ResponseHeads(t *testing.T) {
	tests := []struct {
		name   string
		resp   string
		status int
		body   string
	}{
		{"two different content-lengths", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", 502, ""},
		{"content-length list that differs", "HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\nhello!", 502, ""},
		{"content-length and chunked", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", 502, ""},
		{"chunked not alone", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 502, ""},
		{"chunked twice", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 502, ""},
		{"chunked on http/1.0", "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 502, ""},
		{"signed content-length", "HTTP/1.1 200 OK\r\nContent-Length: +2\r\n\r\nok", 502, ""},
		{"hex content-length", "HTTP/1.1 200 OK\r\nContent-Length: 0x2\r\n\r\nok", 502, ""},
		{"folded field", "HTTP/1.1 200 OK\r\nX-A: a\r\n b\r\nContent-Length: 2\r\n\r\nok", 502, ""},
		{"space before colon", "HTTP/1.1 200 OK\r\nContent-Length : 2\r\n\r\nok", 502, ""},
		{"no colon", "HTTP/1.1 200 OK\r\nX-A\r\nContent-Length: 2\r\n\r\nok", 502, ""},
		{"nul in value", "HTTP/1.1 200 OK\r\nX-A: a\x00b\r\nContent-Length: 2\r\n\r\nok", 502, ""},
		{"bare cr in value", "HTTP/1.1 200 OK\r\nX-A: a\rb\r\nContent-Length: 2\r\n\r\nok", 502, ""},
		{"four-digit status", "HTTP/1.1 2000 OK\r\nContent-Length: 2\r\n\r\nok", 502, ""},
		{"two-digit status", "HTTP/1.1 20 OK\r\nContent-Length: 2\r\n\r\nok", 502, ""},
		{"http/2 status line", "HTTP/2.0 200 OK\r\nContent-Length: 2\r\n\r\nok", 502, ""},
		{"not http", "hello world\r\n\r\n", 502, ""},
		{"101 without upgrade", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n", 502, ""},
		{"head over 1 MiB", "HTTP/1.1 200 OK\r\nX-Big: " + strings.Repeat("a", 1<<20) + "\r\nContent-Length: 2\r\n\r\nok", 502, ""},
		{"head cut short", "HTTP/1.1 200 OK\r\nContent-Len", 502, ""},
		{"equal content-lengths", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2, 2\r\n\r\nok", 200, "ok"},
		{"lf line endings", "HTTP/1.1 200 OK\nContent-Length: 2\n\nok", 200, "ok"},
		{"no reason phrase", "HTTP/1.1 200\r\nContent-Length: 2\r\n\r\nok", 200, "ok"},
		{"100 continue skipped", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 200, "ok"},
		{"103 early hints skipped", "HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok", 201, "ok"},
		{"lower-case names", "HTTP/1.1 200 OK\r\ncontent-length: 2\r\nx-thing: v\r\n\r\nok", 200, "ok"},
		{"chunk extensions", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2;name=v\r\nok\r\n0\r\n\r\n", 200, "ok"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp := tc.resp
			addr := rawBackend(t, func(c net.Conn, br *bufio.Reader, n int) {
				if strings.HasSuffix(tc.name, "cut short") {
					if _, _, ok := readRequest(br); ok {
						_, _ = io.WriteString(c, resp)
					}
					return
				}
				answerWith(resp)(c, br, n)
			})
			g := startGateway(t, simpleConfig([]string{addr}, "", ""))
			r := get(t, newClient(t), g.URL+"/api")
			if tc.status == 502 {
				checkError(t, r, 502, "BAD_GATEWAY")
				return
			}
			if r.Status != tc.status || r.Body != tc.body {
				t.Errorf("got %d %q, want %d %q", r.Status, r.Body, tc.status, tc.body)
			}
		})
	}
}

// TestH1CutBody checks that a response body the upstream cuts short (or
// frames badly) aborts the client's response instead of ending cleanly.
func TestH1CutBody(t *testing.T) {
	tests := []struct{ name, resp string }{
		{"short content-length", "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial"},
		{"chunked without last chunk", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n7\r\npartial\r\n"},
		{"chunk shorter than its size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\npartial"},
		{"bad chunk size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n7\r\npartial\r\nzz\r\n"},
		{"chunk without crlf", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n7\r\npartialXX0\r\n\r\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			addr := rawBackend(t, func(c net.Conn, br *bufio.Reader, _ int) {
				if _, _, ok := readRequest(br); ok {
					_, _ = io.WriteString(c, tc.resp)
				}
			})
			g := startGateway(t, simpleConfig([]string{addr}, "", ""))
			conn, err := net.Dial("tcp", g.Addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
			fmt.Fprintf(conn, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
			res, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				return // the head never got out: also not a complete response
			}
			body, err := io.ReadAll(res.Body)
			if err == nil {
				t.Errorf("body %q read without error; want the truncation to show", body)
			}
		})
	}
}

// TestH1ChunkedTrailers checks chunked responses in several chunks with
// declared and undeclared trailers, and that the connection is reused.
func TestH1ChunkedTrailers(t *testing.T) {
	resp := "HTTP/1.1 200 OK\r\nTrailer: X-Sum, Content-Length\r\nTransfer-Encoding: chunked\r\n\r\n" +
		"3\r\nabc\r\n4;ext=1\r\ndefg\r\n0\r\nX-Sum: 42\r\nX-Late: yes\r\n\r\n"
	var conns atomic.Int64
	addr := rawBackend(t, func(c net.Conn, br *bufio.Reader, n int) {
		conns.Add(1)
		answerWith(resp)(c, br, n)
	})
	g := startGateway(t, simpleConfig([]string{addr}, "", ""))
	for _, client := range []struct {
		name string
		c    *http.Client
	}{{"http1", newClient(t)}, {"h2c", newH2CClient(t)}} {
		t.Run(client.name, func(t *testing.T) {
			for range 3 {
				r := get(t, client.c, g.URL+"/")
				if r.Status != 200 || r.Body != "abcdefg" {
					t.Fatalf("got %d %q", r.Status, r.Body)
				}
				if r.Trailer.Get("X-Sum") != "42" || r.Trailer.Get("X-Late") != "yes" {
					t.Errorf("trailers %v, want X-Sum 42 and X-Late yes", r.Trailer)
				}
			}
		})
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("upstream connections = %d, want 1", n)
	}
}

// TestH1CancelMidBody checks that a client leaving during a streamed
// response closes the upstream connection.
func TestH1CancelMidBody(t *testing.T) {
	closed := make(chan struct{}, 1)
	addr := rawBackend(t, func(c net.Conn, br *bufio.Reader, _ int) {
		if _, _, ok := readRequest(br); !ok {
			return
		}
		_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\ntick\n\r\n")
		if _, err := br.ReadByte(); err != nil { // blocks until the gateway closes
			closed <- struct{}{}
		}
	})
	g := startGateway(t, simpleConfig([]string{addr}, "", ""))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, g.URL+"/", nil)
	res, err := newClient(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 5)
	if _, err := io.ReadFull(res.Body, buf); err != nil || string(buf) != "tick\n" {
		t.Fatalf("first chunk %q, %v", buf, err)
	}
	cancel()
	_ = res.Body.Close()
	recv(t, closed, 5*time.Second, "the upstream connection to be closed")
}
