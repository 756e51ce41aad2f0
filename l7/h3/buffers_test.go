//go:build unix

package h3

import (
	"io"
	"log"
	"log/slog"
	"math"
	"net"
	"net/http"
	"strings"
	"testing"
)

const bufferWarning = "h3: UDP socket buffers could not be raised; throughput may suffer"

// plainPacketConn hides everything of a UDP socket but net.PacketConn,
// so neither quic-go nor Serve can size its buffers.
type plainPacketConn struct{ net.PacketConn }

// captureStdLog collects what the standard logger prints (where quic-go
// writes its own buffer warning) until the test ends.
func captureStdLog(t *testing.T) *syncBuffer {
	t.Helper()
	buf := &syncBuffer{}
	prev := log.Writer()
	log.SetOutput(buf)
	t.Cleanup(func() { log.SetOutput(prev) })
	return buf
}

func TestBufferWarning(t *testing.T) {
	for _, tc := range []struct {
		name  string
		conn  func(t *testing.T) net.PacketConn
		want  int  // socket buffer size Serve expects
		attrs bool // the line reports the sizes
	}{
		{"sizes below what Serve wants", func(t *testing.T) net.PacketConn { return listenUDP(t) }, math.MaxInt32, true},
		{"socket without buffer control", func(t *testing.T) net.PacketConn { return plainPacketConn{listenUDP(t)} }, quicBufferSize, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			std := captureStdLog(t)
			f := prepare(t, Options{Handler: http.HandlerFunc(echo)}, tc.conn(t), nil, true)
			f.srv.bufWant = tc.want
			f.serve(t)
			f.logs.waitFor(t, slog.LevelWarn, bufferWarning)
			get(t, f) // Serve is past its buffer check: nothing more comes
			if n := f.logs.count(slog.LevelWarn, bufferWarning); n != 1 {
				t.Fatalf("%d buffer warnings, want 1", n)
			}
			if got := std.String(); strings.Contains(got, "buffer size") {
				t.Fatalf("quic-go's own warning printed too: %q", got)
			}
			if has := f.logs.hasAttr(bufferWarning, "receive_kib"); has != tc.attrs {
				t.Errorf("warning reports sizes: %v, want %v", has, tc.attrs)
			}
		})
	}
}

// TestBufferWarningMatchesSocket: with quic-go's own target, Serve warns
// exactly when the socket's buffers stayed below it (whether they can be
// raised depends on the host's limits and privileges).
func TestBufferWarningMatchesSocket(t *testing.T) {
	f := start(t, Options{Handler: http.HandlerFunc(echo)})
	get(t, f)
	rcv, snd, err := socketBuffers(f.conn)
	if err != nil {
		t.Fatal(err)
	}
	want := 0
	if rcv < quicBufferSize || snd < quicBufferSize {
		want = 1
	}
	if n := f.logs.count(slog.LevelWarn, bufferWarning); n != want {
		t.Fatalf("%d warnings with buffers %d/%d bytes, want %d", n, rcv, snd, want)
	}
}

// get makes one GET over HTTP/3 and expects 200.
func get(t *testing.T, f *fixture) {
	t.Helper()
	resp, err := f.client(t).Get(f.url("/"))
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
}
