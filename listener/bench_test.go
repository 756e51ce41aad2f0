package listener

import (
	"bufio"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
)

const benchGET = "GET /api/v1/orders/12345?expand=items HTTP/1.1\r\nHost: api.example.com\r\n" +
	"User-Agent: bench/1.0\r\nAccept: application/json\r\nAccept-Encoding: gzip\r\n" +
	"Authorization: Bearer abcdefghijklmnopqrstuvwxyz0123456789\r\nX-Request-Id: 0123456789abcdef\r\n\r\n"

// streamConn replays one request forever, in reads of the caller's size: an
// in-memory source that isolates the validator's cost from the network's.
type streamConn struct {
	net.Conn
	req string
	off int
}

func (c *streamConn) Read(b []byte) (int, error) {
	n := 0
	for n < len(b) {
		k := copy(b[n:], c.req[c.off:])
		n += k
		c.off = (c.off + k) % len(c.req)
	}
	return n, nil
}

// BenchmarkStrictRead measures validation of a keep-alive GET stream read
// in 4 KiB slices, as net/http's bufio does; "plain" is the same reads
// without validation.
func BenchmarkStrictRead(b *testing.B) {
	buf := make([]byte, 4096)
	run := func(b *testing.B, r io.Reader) {
		b.SetBytes(int64(len(benchGET)))
		b.ReportAllocs()
		total := 0
		for b.Loop() {
			for total < len(benchGET) {
				n, err := r.Read(buf)
				if err != nil {
					b.Fatal(err)
				}
				total += n
			}
			total -= len(benchGET)
		}
	}
	b.Run("plain", func(b *testing.B) { run(b, &streamConn{req: benchGET}) })
	b.Run("strict", func(b *testing.B) {
		run(b, newStrictConn(&streamConn{req: benchGET}, defaultMaxHeaderBytes, slog.New(slog.DiscardHandler)))
	})
}

// BenchmarkKeepAliveGET is the end-to-end cost per request over loopback:
// an http.Server on a plain listener versus behind the strict listener.
func BenchmarkKeepAliveGET(b *testing.B) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") })
	run := func(b *testing.B, addr string) {
		c := dial(b, addr)
		br := bufio.NewReader(c)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := io.WriteString(c, benchGET); err != nil {
				b.Fatal(err)
			}
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := io.Copy(io.Discard, resp.Body); err != nil {
				b.Fatal(err)
			}
			resp.Body.Close()
		}
	}
	b.Run("plain", func(b *testing.B) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		hs := &http.Server{Handler: h}
		go func() { _ = hs.Serve(l) }()
		defer hs.Close()
		run(b, l.Addr().String())
	})
	b.Run("strict", func(b *testing.B) {
		f := startH1(b, Options{}, h)
		run(b, f.addr)
	})
}

func TestStreamConnReplays(t *testing.T) {
	c := &streamConn{req: "ab"}
	b := make([]byte, 5)
	if n, err := c.Read(b); n != 5 || err != nil || string(b) != "ababa" {
		t.Fatalf("got %q, %d, %v", b, n, err)
	}
	if !strings.HasSuffix(benchGET, "\r\n\r\n") {
		t.Fatal("benchmark request is not a complete head")
	}
}
