package acme

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bouncer-proxy/bouncer/internal/testsvc"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// env is one test's Pebble plus the two listeners Bouncer would own:
// plain HTTP on Pebble's httpPort and TLS on its tlsPort.
type env struct {
	t       *testing.T
	pebble  *testsvc.Pebble
	roots   *x509.CertPool // verifies what Pebble issued in this run
	httpLn  net.Listener
	tlsLn   net.Listener
	logs    *lockedBuffer
	reg     *prometheus.Registry
	m       *Manager
	httpHit atomic.Int64 // HTTP-01 challenge requests answered
	alpnHit atomic.Int64 // acme-tls/1 handshakes served
}

// newEnv binds the listeners, starts Pebble validating against them, and
// returns options pointing at it (fresh storage and account).
func newEnv(t *testing.T, po testsvc.PebbleOptions) (*env, Options) {
	t.Helper()
	e := &env{t: t, logs: &lockedBuffer{}, reg: prometheus.NewRegistry()}
	var err error
	if e.httpLn, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	if e.tlsLn, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.httpLn.Close(); e.tlsLn.Close() })
	po.HTTPPort, po.TLSPort = port(e.httpLn), port(e.tlsLn)
	e.pebble = testsvc.StartPebble(t, po)
	e.roots = e.pebble.Roots(t)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("manager log:\n%s", e.logs.String())
		}
	})
	return e, Options{
		CA: e.pebble.Directory, Email: "ops@bouncer.test", StorageDir: t.TempDir(),
		CARootsFile: e.pebble.APIRootsFile, HTTPPort: po.HTTPPort, TLSPort: po.TLSPort,
		Logger:     slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Registerer: e.reg,
	}
}

// start builds the Manager, serves both listeners with it, and starts it.
func (e *env) start(o Options) *Manager {
	t := e.t
	t.Helper()
	m, err := New(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	e.m = m
	t.Cleanup(m.Close)
	e.serve(m)
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return m
}

// serve runs Bouncer-like servers: HTTP answers challenges before the
// application, TLS offers acme-tls/1 next to the usual protocols.
func (e *env) serve(m *Manager) {
	app := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("app")) })
	quiet := log.New(io.Discard, "", 0) // refused handshakes are expected here
	hs := &http.Server{ErrorLog: quiet, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if m.ServeHTTPChallenge(w, r) {
			e.httpHit.Add(1)
			return
		}
		app.ServeHTTP(w, r)
	})}
	ts := &http.Server{ErrorLog: quiet, Handler: app, TLSConfig: &tls.Config{
		NextProtos: []string{"h2", "http/1.1", ALPNProtocol},
		GetCertificate: func(h *tls.ClientHelloInfo) (*tls.Certificate, error) {
			if len(h.SupportedProtos) == 1 && h.SupportedProtos[0] == ALPNProtocol {
				e.alpnHit.Add(1)
			}
			return m.GetCertificate(h)
		},
	}}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); _ = hs.Serve(e.httpLn) }()
	go func() { defer wg.Done(); _ = ts.ServeTLS(e.tlsLn, "", "") }()
	e.t.Cleanup(func() { hs.Close(); ts.Close(); wg.Wait() })
}

// handshake connects to the TLS listener asking for name and returns the
// verified leaf.
func (e *env) handshake(name string) (*x509.Certificate, error) {
	d := &net.Dialer{Timeout: 10 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", e.tlsLn.Addr().String(), &tls.Config{
		ServerName: name, RootCAs: e.roots, NextProtos: []string{"http/1.1"},
	})
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0], nil
}

// waitCert polls handshakes for name until one verifies.
func (e *env) waitCert(name string, timeout time.Duration) *x509.Certificate {
	e.t.Helper()
	var leaf *x509.Certificate
	waitFor(e.t, timeout, "certificate for "+name, func() bool {
		var err error
		leaf, err = e.handshake(name)
		return err == nil
	})
	return leaf
}

// waitFor polls cond every 20 ms until it holds or timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		<-time.After(20 * time.Millisecond)
	}
}

func (e *env) events(kind string) float64 {
	return value(e.t, e.m.metrics.events.WithLabelValues(kind))
}

func (e *env) expiry(name string) float64 {
	return value(e.t, e.m.metrics.expiry.WithLabelValues(name))
}

// checkRegistered fails the test unless the Registerer has the metrics.
func (e *env) checkRegistered(names ...string) {
	e.t.Helper()
	mfs, err := e.reg.Gather()
	if err != nil {
		e.t.Fatal(err)
	}
	for _, n := range names {
		if !slices.ContainsFunc(mfs, func(mf *dto.MetricFamily) bool { return mf.GetName() == n }) {
			e.t.Errorf("metric %s not registered", n)
		}
	}
}

// value reads a counter or gauge.
func value(t *testing.T, c prometheus.Metric) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	if m.Counter != nil {
		return m.Counter.GetValue()
	}
	return m.Gauge.GetValue()
}

func port(ln net.Listener) int { return ln.Addr().(*net.TCPAddr).Port }

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
