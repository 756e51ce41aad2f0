package h3

import (
	"bytes"
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/bouncer-proxy/bouncer/tls/certstest"
	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"
)

// serverName is the SNI the test clients send; the certificate covers it
// and 127.0.0.1.
const serverName = "bouncer.test"

// fixture is a running Server on a UDP socket of 127.0.0.1.
type fixture struct {
	srv  *Server
	conn net.PacketConn
	addr *net.UDPAddr
	ca   *certstest.CA
	logs *logSink
	done chan error // Serve's result

	manual bool // the test calls serve
}

// start runs a Server with o (TLS, Handler and Logger filled in when
// unset) on a new UDP socket; the test's cleanup closes both.
func start(t testing.TB, o Options) *fixture {
	t.Helper()
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return startOn(t, o, conn, nil)
}

// startOn is start on a given socket; with ca nil, a new CA signs the
// certificate, otherwise o.TLS must hold one that ca signed.
func startOn(t testing.TB, o Options, conn net.PacketConn, ca *certstest.CA) *fixture {
	t.Helper()
	return prepare(t, o, conn, ca, false)
}

// prepare builds the fixture's Server; unless manual, it also serves.
func prepare(t testing.TB, o Options, conn net.PacketConn, ca *certstest.CA, manual bool) *fixture {
	t.Helper()
	if ca == nil {
		ca = certstest.NewCA(t)
	}
	f := &fixture{conn: conn, ca: ca, logs: &logSink{}, done: make(chan error, 1), manual: manual}
	if o.TLS == nil {
		o.TLS = &tls.Config{Certificates: []tls.Certificate{f.ca.TLSCert(t, serverName, "127.0.0.1")}}
	}
	if o.Logger == nil {
		o.Logger = slog.New(f.logs)
	}
	srv, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	f.srv = srv
	f.addr, _ = conn.LocalAddr().(*net.UDPAddr)
	if !f.manual {
		f.serve(t)
	}
	return f
}

// serve runs Serve in a goroutine, stopped by the test's cleanup.
func (f *fixture) serve(t testing.TB) {
	srv, conn := f.srv, f.conn
	go func() { f.done <- srv.Serve(conn) }()
	t.Cleanup(func() {
		_ = srv.Close()
		select {
		case <-f.done:
		case <-time.After(5 * time.Second):
			t.Error("Serve did not return after Close")
		}
		_ = conn.Close()
	})
}

// url is an https URL of the server for path.
func (f *fixture) url(path string) string { return "https://" + f.addr.String() + path }

// clientTLS trusts the fixture's CA and sends serverName.
func (f *fixture) clientTLS() *tls.Config {
	return &tls.Config{RootCAs: f.ca.Pool, ServerName: serverName, NextProtos: []string{http3.NextProtoH3}}
}

// client is an HTTP/3 client of the fixture, closed by the test's cleanup.
func (f *fixture) client(t testing.TB) *http.Client {
	t.Helper()
	tr := &http3.Transport{TLSClientConfig: f.clientTLS()}
	t.Cleanup(func() { _ = tr.Close() })
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// dial opens a QUIC connection to addr (the fixture or a relay) with a
// client socket of its own, and an HTTP/3 client connection on it.
// early dials with 0-RTT when tc has a session ticket for the server.
func (f *fixture) dial(t testing.TB, addr net.Addr, tc *tls.Config, early bool) (*quic.Conn, *http3.ClientConn) {
	t.Helper()
	udp, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	tr := &quic.Transport{Conn: udp}
	t.Cleanup(func() { _ = tr.Close(); _ = udp.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	qc := &quic.Config{Versions: []quic.Version{quic.Version1}}
	var conn *quic.Conn
	if early {
		conn, err = tr.DialEarly(ctx, addr, tc, qc)
	} else {
		conn, err = tr.Dial(ctx, addr, tc, qc)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.CloseWithError(0, "") })
	cc := (&http3.Transport{}).NewClientConn(conn)
	return conn, cc
}

// logSink is a slog.Handler that keeps the records.
type logSink struct {
	mu   sync.Mutex
	recs []slog.Record
	wake chan struct{} // closed and replaced on each record
}

func (l *logSink) Enabled(context.Context, slog.Level) bool { return true }
func (l *logSink) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logSink) WithGroup(string) slog.Handler            { return l }

func (l *logSink) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.recs = append(l.recs, r.Clone())
	if l.wake != nil {
		close(l.wake)
		l.wake = nil
	}
	return nil
}

// count is the number of records at level or above whose message is msg.
func (l *logSink) count(level slog.Level, msg string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, r := range l.recs {
		if r.Level >= level && r.Message == msg {
			n++
		}
	}
	return n
}

// hasAttr reports whether a record with msg has an attribute key.
func (l *logSink) hasAttr(msg, key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	found := false
	for _, r := range l.recs {
		if r.Message == msg {
			r.Attrs(func(a slog.Attr) bool {
				found = found || a.Key == key
				return true
			})
		}
	}
	return found
}

// syncBuffer is a bytes.Buffer safe for concurrent writers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// waitFor waits up to 5 s for a record at level or above with msg.
func (l *logSink) waitFor(t testing.TB, level slog.Level, msg string) {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		l.mu.Lock()
		if l.wake == nil {
			l.wake = make(chan struct{})
		}
		wake := l.wake
		l.mu.Unlock()
		if l.count(level, msg) > 0 {
			return
		}
		select {
		case <-wake:
		case <-deadline:
			t.Fatalf("no %v log %q", level, msg)
		}
	}
}

// listenUDP is a UDP socket on 127.0.0.1; the fixture closes it.
func listenUDP(t testing.TB) net.PacketConn {
	t.Helper()
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return conn
}
