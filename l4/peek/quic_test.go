package peek

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/quic-go/quic-go"
)

// captureInitials lets a real quic-go client start a handshake with a UDP
// socket that never answers, and returns the datagrams it sent until
// ParseQUIC has a decision (at most 8).
func captureInitials(t *testing.T, tlsConf *tls.Config, versions []quic.Version) (Hello, [][]byte) {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	go func() {
		conn, err := quic.DialAddr(ctx, pc.LocalAddr().String(), tlsConf, &quic.Config{Versions: versions})
		if err == nil {
			_ = conn.CloseWithError(0, "")
		}
	}()
	var grams [][]byte
	buf := make([]byte, 65536)
	for len(grams) < 8 {
		_ = pc.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, _, err := pc.ReadFrom(buf)
		if err != nil {
			t.Fatalf("no datagram from the quic client: %v", err)
		}
		grams = append(grams, append([]byte(nil), buf[:n]...))
		h, err := ParseQUIC(grams)
		if errors.Is(err, ErrNeedMore) {
			continue
		}
		if err != nil {
			t.Fatalf("ParseQUIC over %d datagrams: %v", len(grams), err)
		}
		return h, grams
	}
	t.Fatalf("no decision after %d datagrams", len(grams))
	return Hello{}, nil
}

func TestParseQUIC(t *testing.T) {
	for _, c := range []struct {
		name     string
		curves   []tls.CurveID
		versions []quic.Version
	}{
		{"v1 default key shares (post-quantum: several packets)", nil, []quic.Version{quic.Version1}},
		{"v1 x25519 only", []tls.CurveID{tls.X25519}, []quic.Version{quic.Version1}},
		{"v2", nil, []quic.Version{quic.Version2}},
	} {
		t.Run(c.name, func(t *testing.T) {
			conf := &tls.Config{ServerName: "Api.Example.test", NextProtos: []string{"h3", "myproto"}, CurvePreferences: c.curves}
			h, grams := captureInitials(t, conf, c.versions)
			if h.Proto != TLS || h.SNI != "api.example.test" || len(h.ALPN) != 2 || h.ALPN[0] != "h3" {
				t.Fatalf("Hello = %+v", h)
			}
			t.Logf("decided after %d datagram(s) of %d bytes first", len(grams), len(grams[0]))
			// Any corruption of the protected part makes it undecryptable.
			bad := append([]byte(nil), grams[0]...)
			bad[len(bad)-1] ^= 0xff
			if _, err := ParseQUIC([][]byte{bad}); !errors.Is(err, ErrMalformed) {
				t.Fatalf("corrupted packet: %v, want ErrMalformed", err)
			}
		})
	}
}

func TestParseQUICNotQUIC(t *testing.T) {
	for _, d := range [][]byte{nil, {0x00, 1, 2, 3}, []byte("GET / HTTP/1.1\r\n\r\n"), {0xc0, 0xff, 0, 0, 0x1d, 8, 1, 2, 3, 4, 5, 6, 7, 8, 0}} {
		if _, err := ParseQUIC([][]byte{d}); !errors.Is(err, ErrNotQUIC) {
			t.Errorf("ParseQUIC(% x) = %v, want ErrNotQUIC", d, err)
		}
	}
}

func FuzzParseQUIC(f *testing.F) {
	f.Add([]byte{0xc0, 0, 0, 0, 1, 8, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0x41, 0x00})
	f.Add([]byte{0xd0, 0x6b, 0x33, 0x43, 0xcf, 0, 0, 0, 0x40, 0x20})
	f.Fuzz(func(t *testing.T, d []byte) {
		_, _ = ParseQUIC([][]byte{d, d})
	})
}

// CRYPTO data sent again at an offset already filled does not replace it,
// as in the upstream's QUIC stack: a resent hello naming another server
// cannot route the connection away from the name the handshake uses.
func TestReassemblyKeepsFirstCopy(t *testing.T) {
	var r reassembly
	for _, f := range []struct {
		off  uint64
		data string
	}{{0, "good"}, {0, "evil"}, {2, "odness"}} {
		if err := r.add(f.off, []byte(f.data)); err != nil {
			t.Fatal(err)
		}
	}
	if got := string(r.prefix()); got != "goodness" {
		t.Fatalf("reassembled %q, want %q", got, "goodness")
	}
}
