package proxy

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/bouncer-proxy/bouncer/internal/testsvc"
)

// Tests of the proxy's own HTTP/2 client (h2*.go) against real servers on
// loopback: net/http's HTTP/2 server (h2c and TLS with ALPN), and a raw
// frame server (rawH2) for the upstreams that misbehave on purpose.

// --- clients and servers ---

// h2tClient is an h2Transport dialing with a plain net.Dialer; its idle
// connections are closed when the test ends.
func h2tClient(t testing.TB, protocol string, tlsCfg *tls.Config, idle time.Duration) *h2Transport {
	t.Helper()
	d := &net.Dialer{}
	tr := newH2Client(protocol, tlsCfg, 5*time.Second, idle, d.DialContext)
	t.Cleanup(tr.CloseIdleConnections)
	return tr
}

// h2tServer starts an h2c (prior knowledge) server; conf may adjust it
// before it starts.
func h2tServer(t testing.TB, h http.HandlerFunc, conf func(*http.Server)) *httptest.Server {
	t.Helper()
	s := httptest.NewUnstartedServer(h)
	s.Config.Protocols = new(http.Protocols)
	s.Config.Protocols.SetUnencryptedHTTP2(true)
	if conf != nil {
		conf(s.Config)
	}
	s.Start()
	t.Cleanup(s.Close)
	return s
}

// h2tTLSServer starts a TLS server; with h2 it offers "h2" by ALPN, else
// only "http/1.1". The client config trusts its certificate.
func h2tTLSServer(t testing.TB, h http.HandlerFunc, h2 bool) (*httptest.Server, *tls.Config) {
	t.Helper()
	s := httptest.NewUnstartedServer(h)
	s.EnableHTTP2 = h2
	s.StartTLS()
	t.Cleanup(s.Close)
	pool := x509.NewCertPool()
	pool.AddCert(s.Certificate())
	return s, &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
}

// h2tCtx bounds a test: no request may hang past it.
func h2tCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func h2tRequest(t testing.TB, ctx context.Context, method, url string, body io.Reader) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// h2tWait polls cond until it holds or the deadline passes.
func h2tWait(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond) // polling with a deadline, not synchronisation
	}
}

func h2tRecv[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		var zero T
		return zero
	}
}

// h2tConns counts the transport's pooled connections.
func h2tConns(tr *h2Transport) int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	n := 0
	for _, list := range tr.conns {
		n += len(list)
	}
	return n
}

// h2tBuffered reports the response body bytes a stream holds unread, and
// the length of the slice that holds them.
func h2tBuffered(res *http.Response) (unread, held int) {
	cs := res.Body.(*h2Body).cs
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return len(cs.buf) - cs.head, len(cs.buf)
}

// h2tStreamErr is the error a response's stream ended with, if any.
func h2tStreamErr(res *http.Response) error {
	cs := res.Body.(*h2Body).cs
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return cs.err
}

// h2tPayload is n deterministic pseudo-random bytes.
func h2tPayload(n int) []byte {
	b := make([]byte, n)
	r := rand.NewChaCha8([32]byte{1, 2, 3})
	_, _ = r.Read(b)
	return b
}

// --- round trips ---

// TestH2RoundTrip sends GET and POST over h2c and h2 (TLS, ALPN) and
// checks what the server receives: pseudo-headers from the request,
// hop-by-hop fields dropped, TE: trailers and Authorization kept.
func TestH2RoundTrip(t *testing.T) {
	type seen struct {
		proto, host, uri, alpn, body string
		header                       http.Header
		length                       int64
	}
	got := make(chan seen, 1)
	h := func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		s := seen{proto: r.Proto, host: r.Host, uri: r.RequestURI, body: string(b), header: r.Header, length: r.ContentLength}
		if r.TLS != nil {
			s.alpn = r.TLS.NegotiatedProtocol
		}
		got <- s
		w.Header().Set("X-Reply", "yes")
		_, _ = io.WriteString(w, r.Method+":"+string(b))
	}
	h2cSrv := h2tServer(t, h, nil)
	tlsSrv, tlsCfg := h2tTLSServer(t, h, true)
	for _, tc := range []struct {
		protocol, url string
		tls           *tls.Config
	}{{"h2c", h2cSrv.URL, nil}, {"h2", tlsSrv.URL, tlsCfg}} {
		tr := h2tClient(t, tc.protocol, tc.tls, 0)
		for _, method := range []string{http.MethodGet, http.MethodPost, http.MethodPut} {
			t.Run(tc.protocol+"/"+method, func(t *testing.T) {
				var body io.Reader
				if method != http.MethodGet {
					body = strings.NewReader("hello")
				}
				req := h2tRequest(t, h2tCtx(t), method, tc.url+"/p/a?q=1", body)
				req.Host = "api.example.test"
				req.Header.Set("Authorization", "Bearer s3cret")
				req.Header.Set("Te", "trailers")
				req.Header["X-Multi"] = []string{"a", "b"}
				for _, hop := range []string{"Connection", "Keep-Alive", "Proxy-Connection", "Transfer-Encoding"} {
					req.Header.Set(hop, "x")
				}
				req.Header["connection"] = []string{"close"} // a non-canonical key is dropped too
				res, err := tr.RoundTrip(req)
				if err != nil {
					t.Fatal(err)
				}
				defer res.Body.Close()
				want := method + ":"
				if body != nil {
					want += "hello"
				}
				b, err := io.ReadAll(res.Body)
				if err != nil || string(b) != want {
					t.Errorf("body %q, %v", b, err)
				}
				if res.StatusCode != 200 || res.Proto != "HTTP/2.0" || res.Header.Get("X-Reply") != "yes" {
					t.Errorf("response %d %s %v", res.StatusCode, res.Proto, res.Header)
				}
				if (tc.tls != nil) != (res.TLS != nil) || (res.TLS != nil && res.TLS.NegotiatedProtocol != "h2") {
					t.Errorf("response TLS state %+v", res.TLS)
				}
				s := h2tRecv(t, got, "the server's request")
				if s.proto != "HTTP/2.0" || s.host != "api.example.test" || s.uri != "/p/a?q=1" {
					t.Errorf("server saw %s host %q uri %q", s.proto, s.host, s.uri)
				}
				if tc.tls != nil && s.alpn != "h2" {
					t.Errorf("server ALPN %q, want h2", s.alpn)
				}
				if s.header.Get("Authorization") != "Bearer s3cret" || s.header.Get("Te") != "trailers" ||
					strings.Join(s.header["X-Multi"], ",") != "a,b" {
					t.Errorf("server headers %v", s.header)
				}
				for _, hop := range []string{"Connection", "Keep-Alive", "Proxy-Connection", "Transfer-Encoding"} {
					if _, ok := s.header[hop]; ok {
						t.Errorf("hop-by-hop %s reached the server", hop)
					}
				}
				if body != nil && s.length != 5 {
					t.Errorf("server content length %d, want 5", s.length)
				}
			})
		}
	}
}

// TestH2TLSWithoutH2 checks that a TLS upstream that does not agree to h2
// by ALPN fails the request with an error that says so.
func TestH2TLSWithoutH2(t *testing.T) {
	h1Srv, cfg := h2tTLSServer(t, func(w http.ResponseWriter, r *http.Request) {}, false)
	// A TLS server with no ALPN at all: the handshake succeeds, with no protocol.
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: h1Srv.TLS.Certificates, MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatal(err)
	}
	addr := testsvc.Serve(t, ln, func(c net.Conn) { _, _ = io.Copy(io.Discard, c) })
	for name, url := range map[string]string{"http/1.1 only": h1Srv.URL, "no ALPN": "https://" + addr} {
		t.Run(name, func(t *testing.T) {
			tr := h2tClient(t, "h2", cfg, 0)
			_, err := tr.RoundTrip(h2tRequest(t, h2tCtx(t), http.MethodGet, url, nil))
			if err == nil || !strings.Contains(err.Error(), "h2") && !strings.Contains(err.Error(), "application protocol") {
				t.Fatalf("error %v, want one about the application protocol", err)
			}
		})
	}
}

// TestH2DialError checks that a refused connection is a *net.OpError
// with Op "dial", which classify turns into a connect failure.
func TestH2DialError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	tr := h2tClient(t, "h2c", nil, 0)
	_, err = tr.RoundTrip(h2tRequest(t, h2tCtx(t), http.MethodGet, "http://"+addr+"/", nil))
	var op *net.OpError
	if !errors.As(err, &op) || op.Op != "dial" {
		t.Fatalf("error %v (%T), want a *net.OpError from dial", err, err)
	}
}

// --- bodies and flow control ---

// --- cancellation ---

// --- a raw HTTP/2 server ---

// --- GOAWAY, RST_STREAM, malformed responses ---

// --- connection lifetime ---

// --- HPACK ---
