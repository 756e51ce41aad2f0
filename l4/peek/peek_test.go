package peek

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bouncer-proxy/bouncer/tls/certstest"
)

// TestPeekTLSClients peeks real crypto/tls clients, then finishes the
// handshake through NewConn to show the replay is byte-exact.
func TestPeekTLSClients(t *testing.T) {
	ca := certstest.NewCA(t)
	cert := ca.TLSCert(t, "example.com")
	huge := func(total int) []string {
		var p []string
		for i := 0; total > 0; i++ {
			n := min(250, total)
			p = append(p, strings.Repeat(string(rune('a'+i%26)), n-1)+"1")
			total -= n + 1
		}
		return append(p, "h2")
	}
	tests := []struct {
		name     string
		alpn     []string
		curves   []tls.CurveID
		opts     Options
		minBytes int
		wantErr  error
	}{
		{"sni and alpn", []string{"h2", "http/1.1"}, nil, Options{}, 0, nil},
		{"mlkem hybrid over 1 KiB", nil, []tls.CurveID{tls.X25519MLKEM768}, Options{}, 1024, nil},
		{"alpn list near 16 KiB", huge(14000), nil, Options{}, 14000, nil},
		{"hello in two records", huge(24000), nil, Options{MaxBytes: 64 << 10}, 24000, nil},
		{"hello over MaxBytes", huge(24000), nil, Options{}, 0, ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ln := listen(t)
			srv := peekServer(ln, tt.opts)
			cfg := &tls.Config{ServerName: "Example.com", NextProtos: tt.alpn, RootCAs: ca.Pool, CurvePreferences: tt.curves}
			client := dialTLS(ln.Addr().String(), cfg)
			p := waitPeek(t, srv)
			if !errors.Is(p.err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", p.err, tt.wantErr)
			}
			if tt.wantErr != nil {
				if p.h.Proto != TLS || p.h.Bytes > recordHeaderLen {
					t.Fatalf("oversized hello: %+v (should stop after the record header)", p.h)
				}
				p.conn.Close()
				if wait(t, client) == nil {
					t.Fatal("client handshake succeeded")
				}
				return
			}
			h := p.h
			if h.Proto != TLS || h.SNI != "example.com" || !slices.Equal(h.ALPN, tt.alpn) || h.Bytes < tt.minBytes || h.Bytes != len(p.b) {
				t.Fatalf("got %+v (%d bytes)", h, len(p.b))
			}
			if !slices.Equal(h.TLSVersions, []uint16{tls.VersionTLS13, tls.VersionTLS12}) {
				t.Fatalf("versions %x", h.TLSVersions)
			}
			finishHandshake(t, p, cert, client)
		})
	}
}

// dialTLS runs a crypto/tls client handshake and reports its outcome.
func dialTLS(addr string, cfg *tls.Config) <-chan error {
	client := make(chan error, 1)
	go func() {
		c, err := tls.Dial("tcp", addr, cfg)
		if err == nil {
			c.Close()
		}
		client <- err
	}()
	return client
}

// finishHandshake completes a TLS handshake on a peeked connection.
func finishHandshake(t *testing.T, p peeked, cert tls.Certificate, client <-chan error) {
	t.Helper()
	s := tls.Server(NewConn(p.conn, p.b), &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2"}})
	if err := s.Handshake(); err != nil {
		t.Fatalf("server handshake after replay: %v", err)
	}
	if got := s.ConnectionState().ServerName; !strings.EqualFold(got, "example.com") {
		t.Fatalf("server saw SNI %q", got)
	}
	if err := wait(t, client); err != nil {
		t.Fatalf("client: %v", err)
	}
}

// TestPeekRelayBytewise puts a relay that forwards the client one byte per
// TCP segment between a crypto/tls client and the peeking server.
func TestPeekRelayBytewise(t *testing.T) {
	ca := certstest.NewCA(t)
	cert := ca.TLSCert(t, "example.com")
	ln, relay := listen(t), listen(t)
	srv := peekServer(ln, Options{})
	go func() {
		in, err := relay.Accept()
		if err != nil {
			return
		}
		defer in.Close()
		out, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			return
		}
		defer out.Close()
		out.(*net.TCPConn).SetNoDelay(true)
		go io.Copy(in, out)
		buf := make([]byte, 4096)
		for {
			n, err := in.Read(buf)
			if writeBytewise(out, buf[:n]) != nil || err != nil {
				return
			}
		}
	}()
	client := dialTLS(relay.Addr().String(), &tls.Config{ServerName: "example.com", NextProtos: []string{"h2"}, RootCAs: ca.Pool})
	p := waitPeek(t, srv)
	if p.err != nil || p.h.SNI != "example.com" || !slices.Equal(p.h.ALPN, []string{"h2"}) {
		t.Fatalf("got %+v, %v", p.h, p.err)
	}
	finishHandshake(t, p, cert, client)
}

// TestPeekRaw sends bytes from a raw socket: whole, or one byte per segment.
func TestPeekRaw(t *testing.T) {
	goHello := captureHello(t, &tls.Config{ServerName: "go.example", NextProtos: []string{"h2"}})
	padded := rawHello{sni: "pad.example", alpn: []string{"h2", "http/1.1"}, padding: 16000}.records()
	tooBig := rawHello{sni: "pad.example", padding: 17000}.records()
	tinyRecords := reframe(handshakeMessage(goHello), 1)
	longLine := "GET /" + strings.Repeat("x", 8000) + " HTTP/1.1\r\n"
	tests := []rawCase{
		{"go hello bytewise", string(goHello), true, false, Options{}, Hello{Proto: TLS, SNI: "go.example", Bytes: len(goHello)}, nil},
		{"one-byte records", string(tinyRecords), false, false, Options{}, Hello{Proto: TLS, SNI: "go.example", Bytes: len(tinyRecords)}, nil},
		{"padded to 16 KiB", string(padded), false, false, Options{}, Hello{Proto: TLS, SNI: "pad.example", Bytes: len(padded)}, nil},
		{"declared size over MaxBytes", string(reframe(handshakeMessage(padded), 1000)), false, false, Options{MaxBytes: 4096}, Hello{Proto: TLS, Bytes: 1005}, ErrTooLarge},
		{"padded over 16 KiB", string(tooBig), false, false, Options{}, Hello{Proto: TLS, Bytes: 5}, ErrTooLarge},
		{"get", "GET /index.html HTTP/1.1\r\nHost: a\r\n\r\n", false, false, Options{}, Hello{Proto: HTTP1, Method: "GET", Bytes: -1}, nil},
		{"get bytewise", "GET / HTTP/1.0\r\nHost: a\r\n\r\n", true, false, Options{}, Hello{Proto: HTTP1, Method: "GET", Bytes: -1}, nil},
		{"extension method", "PROPFIND /d HTTP/1.1\r\n", false, false, Options{}, Hello{Proto: HTTP1, Method: "PROPFIND", Bytes: 22}, nil},
		{"long request line", longLine, false, false, Options{}, Hello{Proto: HTTP1, Method: "GET", Bytes: len(longLine)}, nil},
		{"request line over MaxBytes", longLine, false, false, Options{MaxBytes: 1024}, Hello{Proto: HTTP1, Bytes: 1024}, ErrTooLarge},
		{"h2c preface", h2Preface + "\x00\x00\x00\x04\x00\x00\x00\x00\x00", false, false, Options{}, Hello{Proto: H2C, Bytes: -1}, nil},
		{"h2c preface bytewise", h2Preface, true, false, Options{}, Hello{Proto: H2C, Bytes: 24}, nil},
		{"PRI line, bad preface", "PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n", false, false, Options{}, Hello{Bytes: 24}, nil},
		{"ssh banner", "SSH-2.0-OpenSSH_9.6\r\n", false, false, Options{}, Hello{Bytes: -1}, nil},
		{"binary junk", "\x00\xff\x13\x37junk", false, false, Options{}, Hello{Bytes: -1}, nil},
		{"lower-case method", "get / HTTP/1.1\r\n", false, false, Options{}, Hello{Bytes: -1}, nil},
		{"http response", "HTTP/1.1 200 OK\r\n", false, false, Options{}, Hello{Bytes: -1}, nil},
		{"tls record, bad version", "\x16\x09\x09\x00\x10", true, false, Options{}, Hello{Bytes: 5}, nil},
		{"http cut short", "GET /pa", false, true, Options{}, Hello{Proto: HTTP1, Bytes: 7}, ErrIncomplete},
		{"tls cut short", string(goHello[:100]), false, true, Options{}, Hello{Proto: TLS, Bytes: 100}, ErrIncomplete},
		{"closed at once", "", false, true, Options{}, Hello{}, ErrIncomplete},
		{"silent peer", "", false, false, Options{Timeout: 100 * time.Millisecond}, Hello{}, ErrTimeout},
		{"stalls mid line", "GET / HT", false, false, Options{Timeout: 100 * time.Millisecond}, Hello{Proto: HTTP1, Bytes: 8}, ErrTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.run(t) })
	}
}

// rawCase is one TestPeekRaw case.
type rawCase struct {
	name     string
	send     string
	bytewise bool
	hangUp   bool // close after sending
	opts     Options
	want     Hello // Bytes -1: any
	wantErr  error
}

func (tt rawCase) run(t *testing.T) {
	ln := listen(t)
	srv := peekServer(ln, tt.opts)
	c := dialRaw(t, ln)
	write := func(b []byte) error { _, err := c.Write(b); return err }
	if tt.bytewise {
		write = func(b []byte) error { return writeBytewise(c, b) }
	}
	if err := write([]byte(tt.send)); err != nil {
		t.Fatal(err)
	}
	if tt.hangUp {
		c.Close()
	}
	p := waitPeek(t, srv)
	checkPeek(t, p, tt.send, tt.want, tt.wantErr)
	if tt.opts.Timeout > 0 && tt.wantErr == ErrTimeout && (p.took < tt.opts.Timeout || p.took > tt.opts.Timeout+2*time.Second) {
		t.Fatalf("timed out after %v, want about %v", p.took, tt.opts.Timeout)
	}
}

func checkPeek(t *testing.T, p peeked, sent string, want Hello, wantErr error) {
	t.Helper()
	if !errors.Is(p.err, wantErr) || (wantErr == nil) != (p.err == nil) {
		t.Fatalf("err = %v, want %v", p.err, wantErr)
	}
	h := p.h
	if h.Proto != want.Proto || h.SNI != want.SNI || h.Method != want.Method || h.Bytes != len(p.b) {
		t.Fatalf("got %+v with %d bytes, want %+v", h, len(p.b), want)
	}
	if want.Bytes >= 0 && h.Bytes != want.Bytes {
		t.Fatalf("read %d bytes, want %d", h.Bytes, want.Bytes)
	}
	if !strings.HasPrefix(sent, string(p.b)) {
		t.Fatalf("returned bytes are not a prefix of what was sent")
	}
}

// TestPeekLeavesTheRest checks Peek reads exactly the hello's records and
// then clears the read deadline: later bytes stay in the socket.
func TestPeekLeavesTheRest(t *testing.T) {
	hello := captureHello(t, &tls.Config{ServerName: "rest.example"})
	ln := listen(t)
	srv := peekServer(ln, Options{Timeout: 50 * time.Millisecond})
	c := dialRaw(t, ln)
	if _, err := c.Write(append(slices.Clip(hello), "more"...)); err != nil {
		t.Fatal(err)
	}
	p := waitPeek(t, srv)
	if p.err != nil || !bytes.Equal(p.b, hello) {
		t.Fatalf("peeked %d bytes (want %d), err %v", len(p.b), len(hello), p.err)
	}
	// Outlive the peek deadline, then send: a stale deadline would fail
	// this read with a timeout.
	<-time.After(100 * time.Millisecond)
	if _, err := c.Write([]byte("!")); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 5)
	if _, err := io.ReadFull(p.conn, got); err != nil || string(got) != "more!" {
		t.Fatalf("read %q, %v", got, err)
	}
}
