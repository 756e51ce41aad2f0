package h1

import (
	"bufio"
	"bytes"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// BenchmarkServer measures one keep-alive GET with a 64-byte answer over
// a real loopback connection, through this package and through net/http
// with the same handler. Allocations count both sides of the connection;
// the client side allocates nothing per request.
func BenchmarkServer(b *testing.B) {
	payload := []byte(strings.Repeat("b", 64))
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Content-Type"] = []string{"text/plain"}
		_, _ = w.Write(payload)
	})
	b.Run("h1", func(b *testing.B) {
		_, addr := startServer(b, h, nil)
		runClient(b, addr)
	})
	b.Run("net-http", func(b *testing.B) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		s := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: 5 * time.Second,
			ErrorLog: slog.NewLogLogger(slog.DiscardHandler, slog.LevelError)}
		go func() { _ = s.Serve(ln) }()
		b.Cleanup(func() { _ = s.Close() })
		runClient(b, ln.Addr().String())
	})
}

// runClient sends b.N requests on one connection. Every response of a
// server has the same length (the Date field is fixed-width), learned from
// the first one.
func runClient(b *testing.B, addr string) {
	c := dial(b, addr)
	req := []byte("GET /bench HTTP/1.1\r\nHost: bench\r\nUser-Agent: bench\r\n\r\n")
	if _, err := c.c.Write(req); err != nil {
		b.Fatal(err)
	}
	size := firstResponseSize(b, c.br)
	buf := make([]byte, size)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := c.c.Write(req); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(c.br, buf); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if !bytes.HasPrefix(buf, []byte("HTTP/1.1 200 OK\r\n")) {
		b.Fatalf("bad response %q", buf)
	}
}

func firstResponseSize(b *testing.B, br *bufio.Reader) int {
	size := 0
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			b.Fatal(err)
		}
		size += len(line)
		if string(line) == "\r\n" {
			break
		}
	}
	if _, err := br.Discard(64); err != nil {
		b.Fatal(err)
	}
	return size + 64
}
