package peek

import (
	"crypto/tls"
	"io"
	"net"
	"testing"
	"time"

	"golang.org/x/crypto/cryptobyte"
)

// testTimeout bounds every wait in these tests.
const testTimeout = 10 * time.Second

// listen opens a loopback listener closed at the end of the test.
func listen(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// peeked is what a peekServer saw.
type peeked struct {
	h    Hello
	b    []byte
	err  error
	conn net.Conn
	took time.Duration
}

// peekServer accepts one connection on ln, peeks it with o and reports;
// waitPeek receives the report.
func peekServer(ln net.Listener, o Options) <-chan peeked {
	ch := make(chan peeked, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			ch <- peeked{err: err}
			return
		}
		start := time.Now()
		h, b, err := Peek(c, o)
		ch <- peeked{h: h, b: b, err: err, conn: c, took: time.Since(start)}
	}()
	return ch
}

// waitPeek receives a peekServer report and closes its connection at the
// end of the test.
func waitPeek(t testing.TB, ch <-chan peeked) peeked {
	t.Helper()
	p := wait(t, ch)
	if p.conn != nil {
		t.Cleanup(func() { p.conn.Close() })
	}
	return p
}

// wait receives from ch or fails the test after testTimeout.
func wait[T any](t testing.TB, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(testTimeout):
		t.Fatal("timed out")
		panic("unreachable")
	}
}

// dialRaw connects to ln with Nagle off, closed at the end of the test.
func dialRaw(t testing.TB, ln net.Listener) *net.TCPConn {
	t.Helper()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	tc := c.(*net.TCPConn)
	if err := tc.SetNoDelay(true); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return tc
}

// writeBytewise writes b one byte per write: with Nagle off, each byte
// leaves in its own TCP segment.
func writeBytewise(w io.Writer, b []byte) error {
	for i := range b {
		if _, err := w.Write(b[i : i+1]); err != nil {
			return err
		}
	}
	return nil
}

// captureHello returns the ClientHello records crypto/tls sends with cfg,
// read over a pipe by counting record lengths (independently of the code
// under test).
func captureHello(t testing.TB, cfg *tls.Config) []byte {
	t.Helper()
	client, server := net.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		tls.Client(client, cfg).Handshake() // fails once server closes
		client.Close()
	}()
	defer func() { server.Close(); <-done }()
	server.SetDeadline(time.Now().Add(testTimeout))
	var out []byte
	need, got := -1, 0
	for need < 0 || got < need {
		var hdr [5]byte
		if _, err := io.ReadFull(server, hdr[:]); err != nil {
			t.Fatalf("capture header: %v", err)
		}
		body := make([]byte, int(hdr[3])<<8|int(hdr[4]))
		if _, err := io.ReadFull(server, body); err != nil {
			t.Fatalf("capture body: %v", err)
		}
		if need < 0 {
			need = 4 + (int(body[1])<<16 | int(body[2])<<8 | int(body[3]))
		}
		got += len(body)
		out = append(append(out, hdr[:]...), body...)
	}
	return out
}

// handshakeMessage joins the fragments of a record stream made by
// captureHello or reframe (all records are whole).
func handshakeMessage(records []byte) []byte {
	var msg []byte
	for len(records) >= 5 {
		n := int(records[3])<<8 | int(records[4])
		msg = append(msg, records[5:5+n]...)
		records = records[5+n:]
	}
	return msg
}

// reframe cuts a handshake message into handshake records of at most size
// bytes each, as a fragmenting client would.
func reframe(msg []byte, size int) []byte {
	var out []byte
	for len(msg) > 0 {
		n := min(size, len(msg))
		out = append(out, recordTypeHS, 3, 1, byte(n>>8), byte(n))
		out = append(out, msg[:n]...)
		msg = msg[n:]
	}
	return out
}

// rawHello describes a ClientHello built by hand, for shapes crypto/tls
// never sends (padding, GREASE, odd or broken extensions).
type rawHello struct {
	sni      string
	alpn     []string
	versions []uint16 // supported_versions; none when empty
	padding  int      // bytes of padding extension (RFC 7685); none when 0
	extra    [][2][]byte
	noExts   bool // omit the extensions block (pre-TLS 1.3 style)
}

// message builds the handshake message (type, length, body).
func (r rawHello) message() []byte {
	var b cryptobyte.Builder
	b.AddUint8(hsTypeClientHello)
	b.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) {
		b.AddUint16(tls.VersionTLS12)
		b.AddBytes(make([]byte, 32))
		b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(make([]byte, 32)) })
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddUint16(tls.TLS_AES_128_GCM_SHA256) })
		b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddUint8(0) })
		if !r.noExts {
			b.AddUint16LengthPrefixed(r.extensions)
		}
	})
	return b.BytesOrPanic()
}

func (r rawHello) extensions(b *cryptobyte.Builder) {
	ext := func(typ uint16, body func(*cryptobyte.Builder)) {
		b.AddUint16(typ)
		b.AddUint16LengthPrefixed(body)
	}
	if r.sni != "" {
		ext(extServerName, func(b *cryptobyte.Builder) {
			b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
				b.AddUint8(0)
				b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes([]byte(r.sni)) })
			})
		})
	}
	if len(r.alpn) > 0 {
		ext(extALPN, func(b *cryptobyte.Builder) {
			b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
				for _, p := range r.alpn {
					b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes([]byte(p)) })
				}
			})
		})
	}
	if len(r.versions) > 0 {
		ext(extSupportedVersions, func(b *cryptobyte.Builder) {
			b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) {
				for _, v := range r.versions {
					b.AddUint16(v)
				}
			})
		})
	}
	for _, e := range r.extra {
		ext(uint16(e[0][0])<<8|uint16(e[0][1]), func(b *cryptobyte.Builder) { b.AddBytes(e[1]) })
	}
	if r.padding > 0 {
		ext(21, func(b *cryptobyte.Builder) { b.AddBytes(make([]byte, r.padding)) })
	}
}

// records frames the message as one stream of records of at most 16 KiB.
func (r rawHello) records() []byte { return reframe(r.message(), maxRecordLen) }
