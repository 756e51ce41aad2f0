package listener

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// TestH2GuardEndToEnd drives x/net's server, behind the listener and its
// guard, with a raw framer client over loopback (h2c and TLS): a SETTINGS
// frame that repeats an id is accepted and its last value applied, a
// request with a connection-specific header is reset with PROTOCOL_ERROR,
// and the next stream on the connection is served.
func TestH2GuardEndToEnd(t *testing.T) {
	cert, pool := selfSigned(t)
	for _, tc := range []struct {
		name string
		opts Options
		dial func(t *testing.T, addr string) net.Conn
		body string
	}{
		{"h2c", Options{H2C: true}, func(t *testing.T, addr string) net.Conn { return dial(t, addr) }, "HTTP/2.0"},
		{"tls", Options{TLS: &tls.Config{Certificates: []tls.Certificate{cert}}}, func(t *testing.T, addr string) net.Conn {
			return dialH2TLS(t, addr, pool)
		}, "HTTP/2.0 tls"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startFull(t, tc.opts)
			c := tc.dial(t, s.Addr().String())
			fr := http2.NewFramer(c, c)
			fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
			cl := newH2Client() // for its HPACK encoder
			if _, err := io.WriteString(c, h2Preface); err != nil {
				t.Fatal(err)
			}
			iws := http2.SettingInitialWindowSize
			_ = fr.WriteSettings(http2.Setting{ID: iws, Val: 100}, http2.Setting{ID: iws, Val: 1})
			if f := nextFrame(t, fr); f.Header().Type != http2.FrameSettings || !f.Header().Flags.Has(http2.FlagSettingsAck) {
				t.Fatalf("settings with a repeated id: got %v, want an ACK", f.Header())
			}

			_ = fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: cl.block("/bad", "connection", "keep-alive"),
				EndStream: true, EndHeaders: true})
			f := nextFrame(t, fr)
			if rst, ok := f.(*http2.RSTStreamFrame); !ok || rst.StreamID != 1 || rst.ErrCode != http2.ErrCodeProtocol {
				t.Fatalf("connection-specific header: got %v, want RST_STREAM 1 PROTOCOL_ERROR", f.Header())
			}

			_ = fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 3, BlockFragment: cl.block("/ok"), EndStream: true, EndHeaders: true})
			f = nextFrame(t, fr)
			if h, ok := f.(*http2.MetaHeadersFrame); !ok || h.StreamID != 3 || h.PseudoValue("status") != "200" {
				t.Fatalf("next stream: got %v, want HEADERS 3 :status 200", f.Header())
			}
			f = nextFrame(t, fr)
			d, ok := f.(*http2.DataFrame)
			if !ok || d.StreamID != 3 || len(d.Data()) != 1 {
				t.Fatalf("got %v, want DATA of 1 byte (the last INITIAL_WINDOW_SIZE)", f.Header())
			}
			body := string(d.Data())
			_ = fr.WriteWindowUpdate(3, 1000)
			for !d.StreamEnded() {
				if d, ok = nextFrame(t, fr).(*http2.DataFrame); !ok {
					t.Fatal("want DATA")
				}
				body += string(d.Data())
			}
			if body != tc.body {
				t.Fatalf("body %q, want %q", body, tc.body)
			}
		})
	}
}

func dialH2TLS(t *testing.T, addr string, pool *x509.CertPool) net.Conn {
	t.Helper()
	c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, NextProtos: []string{"h2"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	return c
}

// nextFrame returns the server's next frame other than its SETTINGS (which
// it ACKs), WINDOW_UPDATE and PING; GOAWAY fails the test.
func nextFrame(t *testing.T, fr *http2.Framer) http2.Frame {
	t.Helper()
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatalf("read frame: %v", err)
		}
		switch f := f.(type) {
		case *http2.GoAwayFrame:
			t.Fatalf("server sent GOAWAY %v", f.ErrCode)
		case *http2.SettingsFrame:
			if !f.IsAck() {
				_ = fr.WriteSettingsAck()
				continue
			}
			return f
		case *http2.WindowUpdateFrame, *http2.PingFrame:
			continue
		default:
			return f
		}
	}
}

// BenchmarkH2GuardRead measures the guard per request on a keep-alive h2
// request stream read as x/net's framer reads (a 9-byte header, then the
// payload): "get" is a HEADERS frame whose fields are all in the dynamic
// table, "post" adds a 1 KiB DATA frame. "plain" is the same reads without
// the guard.
func BenchmarkH2GuardRead(b *testing.B) {
	for _, kind := range []string{"get", "post"} {
		cl := newH2Client()
		_ = cl.fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1 << 20})
		request := func() {
			kv := []string{"accept", "application/json", "accept-encoding", "gzip, br", "authorization", "Bearer abcdefghijklmnopqrstuvwxyz0123456789"}
			blk := cl.block("/api/v1/orders/12345?expand=items", kv...)
			_ = cl.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: blk, EndStream: kind == "get", EndHeaders: true})
			if kind == "post" {
				_ = cl.fr.WriteData(1, true, make([]byte, 1024))
			}
		}
		request() // fills the dynamic table
		prime := string(cl.out.Bytes())
		cl.out.Reset()
		request()
		steady := cl.out.String()
		b.Run(kind+"/plain", func(b *testing.B) {
			benchFrames(b, &prefixConn{Conn: &streamConn{req: steady}, buf: []byte(prime)}, len(prime), len(steady))
		})
		b.Run(kind+"/guard", func(b *testing.B) {
			src := &prefixConn{Conn: &streamConn{req: steady}, buf: []byte(prime)}
			benchFrames(b, newH2Guard(src, testGuardConfig), len(prime), len(steady))
		})
	}
}

// benchFrames reads from r the preface and frames worth prime bytes, then
// per iteration frames worth size bytes.
func benchFrames(b *testing.B, r io.Reader, prime, size int) {
	hdr := make([]byte, 9)
	payload := make([]byte, 1<<14)
	read := func(n int) {
		for got := 0; got < n; {
			if _, err := io.ReadFull(r, hdr); err != nil {
				b.Fatal(err)
			}
			length := int(binary.BigEndian.Uint32(hdr) >> 8)
			if _, err := io.ReadFull(r, payload[:length]); err != nil {
				b.Fatal(err)
			}
			got += 9 + length
		}
	}
	if _, err := io.ReadFull(r, payload[:len(h2Preface)]); err != nil {
		b.Fatal(err)
	}
	read(prime - len(h2Preface))
	b.SetBytes(int64(size))
	b.ReportAllocs()
	for b.Loop() {
		read(size)
	}
}

// TestH2GuardKeepsTLSState checks that x/net (through ConnectionState) and
// TLSState see the TLS connection behind the guard, and no TLS behind an
// h2c guard.
func TestH2GuardKeepsTLSState(t *testing.T) {
	c := dial(t, startFull(t, Options{H2C: true}).Addr().String())
	tg := newH2Guard(tls.Client(c, &tls.Config{}), testGuardConfig)
	if _, ok := tg.(interface{ ConnectionState() tls.ConnectionState }); !ok || TLSState(tg) == nil {
		t.Fatal("guard over TLS hides the TLS state")
	}
	pg := newH2Guard(c, testGuardConfig)
	if _, ok := pg.(interface{ ConnectionState() tls.ConnectionState }); ok || TLSState(pg) != nil {
		t.Fatal("guard over plain TCP claims TLS")
	}
}
