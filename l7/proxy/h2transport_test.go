package proxy

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
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
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_, _ = io.Copy(io.Discard, c)
			}()
		}
	}()
	for name, url := range map[string]string{"http/1.1 only": h1Srv.URL, "no ALPN": "https://" + ln.Addr().String()} {
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

// TestH2LargeBodies moves 8 MiB each way, against a server that echoes,
// one that reads the request slowly and one whose response the client
// reads slowly; the client never holds more than its stream window.
func TestH2LargeBodies(t *testing.T) {
	payload := h2tPayload(8 << 20)
	t.Run("echo", func(t *testing.T) {
		srv := h2tServer(t, func(w http.ResponseWriter, r *http.Request) { _, _ = io.Copy(w, r.Body) }, nil)
		tr := h2tClient(t, "h2c", nil, 0)
		// No Content-Length: the body is streamed.
		req := h2tRequest(t, h2tCtx(t), http.MethodPost, srv.URL, io.MultiReader(bytes.NewReader(payload)))
		res, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		h2tReadBounded(t, res, payload)
	})
	t.Run("slow server reader", func(t *testing.T) {
		const window = 64 << 10
		var sent atomic.Int64
		filled := make(chan struct{})
		body := &h2tCountingReader{r: bytes.NewReader(payload[:2<<20]), n: &sent, at: window, reached: filled}
		srv := h2tServer(t, func(w http.ResponseWriter, r *http.Request) {
			<-filled
			// The client has a window's worth out and must now wait: it may
			// hold one copy buffer more, no more.
			if n := sent.Load(); n > window+32<<10 {
				t.Errorf("client read %d bytes of the request body ahead of a %d byte window", n, window)
			}
			got := make([]byte, 0, 2<<20)
			buf := make([]byte, 1024)
			for {
				n, err := r.Body.Read(buf)
				got = append(got, buf[:n]...)
				if err != nil {
					break
				}
			}
			if !bytes.Equal(got, payload[:2<<20]) {
				t.Errorf("server received %d bytes, not the %d sent", len(got), 2<<20)
			}
		}, func(s *http.Server) {
			s.HTTP2 = &http.HTTP2Config{MaxReceiveBufferPerStream: window, MaxReceiveBufferPerConnection: window}
		})
		tr := h2tClient(t, "h2c", nil, 0)
		res, err := tr.RoundTrip(h2tRequest(t, h2tCtx(t), http.MethodPost, srv.URL, body))
		if err != nil {
			t.Fatal(err)
		}
		_ = res.Body.Close()
	})
	t.Run("slow client reader", func(t *testing.T) {
		var written atomic.Int64
		srv := h2tServer(t, func(w http.ResponseWriter, r *http.Request) {
			for p := payload; len(p) > 0; p = p[32<<10:] {
				n, err := w.Write(p[:32<<10])
				written.Add(int64(n))
				if err != nil {
					return
				}
			}
		}, nil)
		tr := h2tClient(t, "h2c", nil, 0)
		res, err := tr.RoundTrip(h2tRequest(t, h2tCtx(t), http.MethodGet, srv.URL, nil))
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		h2tWait(t, "the stream window to fill", func() bool { n, _ := h2tBuffered(res); return n == h2RecvStreamWindow })
		if w := written.Load(); w > 2<<20 {
			t.Errorf("server wrote %d bytes while the client read nothing: flow control did not hold it", w)
		}
		h2tReadBounded(t, res, payload)
	})
}

// h2tReadBounded reads res to the end in small pieces, checking that the
// stream never holds more than its window (nor a slice much larger), and
// compares what it read with want.
func h2tReadBounded(t *testing.T, res *http.Response, want []byte) {
	t.Helper()
	got := make([]byte, 0, len(want))
	buf := make([]byte, 16<<10)
	for {
		n, err := res.Body.Read(buf)
		got = append(got, buf[:n]...)
		if unread, held := h2tBuffered(res); unread > h2RecvStreamWindow || held > 2*h2RecvStreamWindow {
			t.Fatalf("stream holds %d unread bytes in a %d byte slice; window %d", unread, held, h2RecvStreamWindow)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("read after %d bytes: %v", len(got), err)
		}
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("read %d bytes, not the %d expected", len(got), len(want))
	}
}

// h2tCountingReader counts what is read from r and closes reached once
// at bytes were read.
type h2tCountingReader struct {
	r       io.Reader
	n       *atomic.Int64
	at      int64
	reached chan struct{}
	once    sync.Once
}

func (c *h2tCountingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if c.n.Add(int64(n)) >= c.at {
		c.once.Do(func() { close(c.reached) })
	}
	return n, err
}

// TestH2Trailers checks response trailers (declared, and undeclared with
// TrailerPrefix) land in res.Trailer at EOF, and request trailers,
// final only when the body ends, reach the server.
func TestH2Trailers(t *testing.T) {
	srv := h2tServer(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Trailer", "X-Sum")
		_, _ = io.WriteString(w, "body;")
		_, _ = io.WriteString(w, r.Trailer.Get("X-Req-Sum")+","+r.Trailer.Get("X-Static"))
		w.Header().Set("X-Sum", "42")
		w.Header().Set(http.TrailerPrefix+"X-Late", "late")
	}, nil)
	tr := h2tClient(t, "h2c", nil, 0)
	req := h2tRequest(t, h2tCtx(t), http.MethodPost, srv.URL, nil)
	req.Trailer = http.Header{"X-Req-Sum": nil, "X-Static": {"v"}}
	req.Body = &h2tTrailerBody{r: strings.NewReader("data"), trailer: req.Trailer}
	res, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if _, ok := res.Trailer["X-Sum"]; !ok {
		t.Errorf("declared trailer missing from res.Trailer before the body: %v", res.Trailer)
	}
	b, err := io.ReadAll(res.Body)
	if err != nil || string(b) != "body;abc,v" {
		t.Errorf("body %q, %v; want the request trailers echoed", b, err)
	}
	if res.Trailer.Get("X-Sum") != "42" || res.Trailer.Get("X-Late") != "late" {
		t.Errorf("trailers %v, want X-Sum 42 and X-Late late", res.Trailer)
	}
}

// h2tTrailerBody sets its request's trailer value at EOF, as a client may.
type h2tTrailerBody struct {
	r       io.Reader
	trailer http.Header
}

func (b *h2tTrailerBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err == io.EOF {
		b.trailer.Set("X-Req-Sum", "abc")
	}
	return n, err
}

func (b *h2tTrailerBody) Close() error { return nil }

// TestH2FullDuplex checks a response is readable chunk by chunk while
// the request is still being sent: the server echoes each line.
func TestH2FullDuplex(t *testing.T) {
	srv := h2tServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		sc := bufio.NewScanner(r.Body)
		for sc.Scan() {
			_, _ = io.WriteString(w, "echo "+sc.Text()+"\n")
			w.(http.Flusher).Flush()
		}
	}, nil)
	tr := h2tClient(t, "h2c", nil, 0)
	pr, pw := io.Pipe()
	defer pw.Close()
	res, err := tr.RoundTrip(h2tRequest(t, h2tCtx(t), http.MethodPost, srv.URL, pr))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	br := bufio.NewReader(res.Body)
	for i := range 5 {
		if _, err := fmt.Fprintf(pw, "line %d\n", i); err != nil {
			t.Fatal(err)
		}
		line, err := br.ReadString('\n')
		if want := fmt.Sprintf("echo line %d\n", i); err != nil || line != want {
			t.Fatalf("read %q, %v; want %q", line, err, want)
		}
	}
	_ = pw.Close()
	if rest, err := io.ReadAll(br); err != nil || len(rest) != 0 {
		t.Fatalf("after the request ended: %q, %v", rest, err)
	}
}

// TestH2Concurrency sends 300 requests at once to a server that allows
// 10 streams per connection: all succeed, on several connections, none
// of which carries more than 10 at a time.
func TestH2Concurrency(t *testing.T) {
	const total, perConn = 300, 10
	var mu sync.Mutex
	active := map[string]int{}
	peak, inflight := 0, 0
	gate := make(chan struct{})
	var gateOnce sync.Once
	srv := h2tServer(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		active[r.RemoteAddr]++
		peak = max(peak, active[r.RemoteAddr])
		inflight++
		if inflight >= 2*perConn {
			gateOnce.Do(func() { close(gate) })
		}
		mu.Unlock()
		// Hold the first requests until two connections' worth run at
		// once: a client that does not open a second connection hangs.
		select {
		case <-gate:
		case <-r.Context().Done():
		}
		b, _ := io.ReadAll(r.Body)
		_, _ = io.WriteString(w, r.URL.Path+string(b))
		mu.Lock()
		active[r.RemoteAddr]--
		inflight--
		mu.Unlock()
	}, func(s *http.Server) { s.HTTP2 = &http.HTTP2Config{MaxConcurrentStreams: perConn} })
	tr := h2tClient(t, "h2c", nil, 0)
	ctx := h2tCtx(t)
	errs := make(chan error, total)
	for i := range total {
		go func() {
			var body io.Reader
			if i%2 == 1 {
				body = strings.NewReader("+body")
			}
			res, err := tr.RoundTrip(h2tRequest(t, ctx, http.MethodPost, fmt.Sprintf("%s/%d", srv.URL, i), body))
			if err != nil {
				errs <- err
				return
			}
			b, err := io.ReadAll(res.Body)
			_ = res.Body.Close()
			want := fmt.Sprintf("/%d", i)
			if body != nil {
				want += "+body"
			}
			if err == nil && string(b) != want {
				err = fmt.Errorf("request %d got %q", i, b)
			}
			errs <- err
		}()
	}
	for range total {
		if err := h2tRecv(t, errs, "a response"); err != nil {
			t.Error(err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(active) < 2 || peak > perConn {
		t.Errorf("%d connections, at most %d streams on one; want several, at most %d", len(active), peak, perConn)
	}
}

// --- cancellation ---

// TestH2Cancel cancels requests at each stage and checks the error the
// caller sees, that the server's request context ends (RST_STREAM
// arrived), and that the connection stays usable.
func TestH2Cancel(t *testing.T) {
	entered := make(chan string, 1)
	ended := make(chan string, 1)
	srv := h2tServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/quick":
			_, _ = io.WriteString(w, r.RemoteAddr)
			return
		case "/body":
			_, _ = io.WriteString(w, "first")
			w.(http.Flusher).Flush()
		case "/upload":
			entered <- r.RemoteAddr
			_, _ = io.Copy(io.Discard, r.Body)
			<-r.Context().Done()
			ended <- r.URL.Path
			return
		}
		entered <- r.RemoteAddr
		<-r.Context().Done()
		ended <- r.URL.Path
	}, nil)
	tr := h2tClient(t, "h2c", nil, 0)
	quick := func(t *testing.T) string {
		t.Helper()
		res, err := tr.RoundTrip(h2tRequest(t, h2tCtx(t), http.MethodGet, srv.URL+"/quick", nil))
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	t.Run("before the request", func(t *testing.T) {
		ctx, cancel := context.WithCancel(h2tCtx(t))
		cancel()
		_, err := tr.RoundTrip(h2tRequest(t, ctx, http.MethodGet, srv.URL+"/quick", nil))
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("error %v, want context.Canceled", err)
		}
	})
	t.Run("waiting for headers", func(t *testing.T) {
		ctx, cancel := context.WithCancel(h2tCtx(t))
		errc := make(chan error, 1)
		go func() {
			_, err := tr.RoundTrip(h2tRequest(t, ctx, http.MethodGet, srv.URL+"/hold", nil))
			errc <- err
		}()
		h2tRecv(t, entered, "the handler")
		cancel()
		if err := h2tRecv(t, errc, "RoundTrip"); !errors.Is(err, context.Canceled) {
			t.Fatalf("error %v, want context.Canceled", err)
		}
		h2tRecv(t, ended, "the server's request context to end")
	})
	t.Run("reading the body", func(t *testing.T) {
		ctx, cancel := context.WithCancel(h2tCtx(t))
		res, err := tr.RoundTrip(h2tRequest(t, ctx, http.MethodGet, srv.URL+"/body", nil))
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		if b, err := io.ReadAll(io.LimitReader(res.Body, 5)); err != nil || string(b) != "first" {
			t.Fatalf("first chunk %q, %v", b, err)
		}
		h2tRecv(t, entered, "the handler")
		cancel()
		if _, err := res.Body.Read(make([]byte, 10)); !errors.Is(err, context.Canceled) {
			t.Fatalf("read error %v, want context.Canceled", err)
		}
		h2tRecv(t, ended, "the server's request context to end")
	})
	t.Run("body closed early", func(t *testing.T) {
		res, err := tr.RoundTrip(h2tRequest(t, h2tCtx(t), http.MethodGet, srv.URL+"/body", nil))
		if err != nil {
			t.Fatal(err)
		}
		addr := h2tRecv(t, entered, "the handler")
		_ = res.Body.Close()
		h2tRecv(t, ended, "the server's request context to end")
		if _, err := res.Body.Read(make([]byte, 1)); err == nil || err == io.EOF {
			t.Errorf("read after Close: %v, want an error", err)
		}
		if again := quick(t); again != addr || h2tConns(tr) != 1 {
			t.Errorf("next request from %s on %d connections; want %s, one connection", again, h2tConns(tr), addr)
		}
	})
	t.Run("request body stuck", func(t *testing.T) {
		ctx, cancel := context.WithCancel(h2tCtx(t))
		pr, pw := io.Pipe()
		defer pw.Close()
		body := &h2tClosingBody{r: pr, closed: make(chan struct{})}
		errc := make(chan error, 1)
		go func() {
			_, err := tr.RoundTrip(h2tRequest(t, ctx, http.MethodPost, srv.URL+"/upload", body))
			errc <- err
		}()
		h2tRecv(t, entered, "the handler")
		cancel()
		if err := h2tRecv(t, errc, "RoundTrip"); !errors.Is(err, context.Canceled) {
			t.Fatalf("error %v, want context.Canceled", err)
		}
		h2tRecv(t, ended, "the server's request context to end")
		// RoundTrip must close the request body, even one blocked in Read.
		h2tRecv(t, body.closed, "the request body to be closed")
	})
}

// h2tClosingBody reports its Close, which also ends a blocked Read.
type h2tClosingBody struct {
	r      *io.PipeReader
	closed chan struct{}
	once   sync.Once
}

func (b *h2tClosingBody) Read(p []byte) (int, error) { return b.r.Read(p) }

func (b *h2tClosingBody) Close() error {
	b.once.Do(func() { close(b.closed) })
	return b.r.Close()
}

// --- a raw HTTP/2 server ---

// h2tRaw is one connection of a server that speaks frame by frame.
type h2tRaw struct {
	fr  *http2.Framer
	enc *hpack.Encoder
	hb  bytes.Buffer
}

// h2tRawServer listens on loopback and runs serve for each connection
// (i counts them from 0) after the preface and an empty SETTINGS; it
// returns the address. Connections close when serve returns.
func h2tRawServer(t testing.TB, serve func(i int, rc *h2tRaw)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		for _, c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, nc)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer nc.Close()
				preface := make([]byte, len(http2.ClientPreface))
				if _, err := io.ReadFull(nc, preface); err != nil || string(preface) != http2.ClientPreface {
					return
				}
				rc := &h2tRaw{fr: http2.NewFramer(nc, nc)}
				rc.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
				rc.enc = hpack.NewEncoder(&rc.hb)
				if rc.fr.WriteSettings() != nil {
					return
				}
				serve(i, rc)
			}()
		}
	}()
	return ln.Addr().String()
}

// next returns the next frame other than SETTINGS, PING and WINDOW_UPDATE,
// acknowledging SETTINGS and answering PINGs on the way.
func (rc *h2tRaw) next() (http2.Frame, error) {
	for {
		f, err := rc.fr.ReadFrame()
		if err != nil {
			return nil, err
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				if err := rc.fr.WriteSettingsAck(); err != nil {
					return nil, err
				}
			}
		case *http2.PingFrame:
			if !f.IsAck() {
				if err := rc.fr.WritePing(true, f.Data); err != nil {
					return nil, err
				}
			}
		case *http2.WindowUpdateFrame:
		default:
			return f, nil
		}
	}
}

// request returns the next request's HEADERS, skipping other frames.
func (rc *h2tRaw) request() (*http2.MetaHeadersFrame, error) {
	for {
		f, err := rc.next()
		if err != nil {
			return nil, err
		}
		if h, ok := f.(*http2.MetaHeadersFrame); ok && h.PseudoValue("method") != "" {
			return h, nil
		}
	}
}

// block encodes name/value pairs as a header block.
func (rc *h2tRaw) block(kv ...string) []byte {
	rc.hb.Reset()
	for i := 0; i+1 < len(kv); i += 2 {
		_ = rc.enc.WriteField(hpack.HeaderField{Name: kv[i], Value: kv[i+1]})
	}
	return bytes.Clone(rc.hb.Bytes())
}

func (rc *h2tRaw) headers(id uint32, end bool, kv ...string) error {
	return rc.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: rc.block(kv...), EndStream: end, EndHeaders: true})
}

// respond sends a whole 200 response with body on stream id.
func (rc *h2tRaw) respond(id uint32, body string) error {
	if err := rc.headers(id, false, ":status", "200"); err != nil {
		return err
	}
	return rc.fr.WriteData(id, true, []byte(body))
}

// drain reads until the connection fails, answering as next does.
func (rc *h2tRaw) drain() {
	for {
		if _, err := rc.next(); err != nil {
			return
		}
	}
}

// --- GOAWAY, RST_STREAM, malformed responses ---

// TestH2GoAwayShutdown shuts a server down gracefully while a request runs:
// the request completes, and the next one goes on a new connection (to
// the server that took over the address).
func TestH2GoAwayShutdown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	entered, release := make(chan struct{}), make(chan struct{})
	handler := func(name string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/hold" {
				close(entered)
				<-release
			}
			_, _ = io.WriteString(w, name)
		}
	}
	first, second := h2tHandoff(t, ln, handler("one")), h2tHandoff(t, ln, handler("two"))
	var current atomic.Pointer[h2tChanListener]
	current.Store(first.ln)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			l := current.Load()
			select {
			case l.ch <- c:
			case <-l.done:
				_ = c.Close()
			}
		}
	}()
	t.Cleanup(func() { _ = ln.Close() })
	tr := h2tClient(t, "h2c", nil, 0)
	url := "http://" + ln.Addr().String()
	held := make(chan string, 1)
	go func() {
		res, err := tr.RoundTrip(h2tRequest(t, h2tCtx(t), http.MethodGet, url+"/hold", nil))
		if err != nil {
			held <- err.Error()
			return
		}
		b, _ := io.ReadAll(res.Body)
		_ = res.Body.Close()
		held <- string(b)
	}()
	h2tRecv(t, entered, "the held request")
	current.Store(second.ln)
	shut := make(chan error, 1)
	go func() { shut <- first.srv.Shutdown(h2tCtx(t)) }()
	h2tWait(t, "GOAWAY to take the connection out of the pool", func() bool { return h2tConns(tr) == 0 })
	res, err := tr.RoundTrip(h2tRequest(t, h2tCtx(t), http.MethodGet, url+"/next", nil))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	_ = res.Body.Close()
	if string(b) != "two" {
		t.Errorf("request after GOAWAY answered by %q, want the new server", b)
	}
	close(release)
	if got := h2tRecv(t, held, "the held request"); got != "one" {
		t.Errorf("held request got %q, want its answer from the old server", got)
	}
	if err := h2tRecv(t, shut, "Shutdown"); err != nil {
		t.Error(err)
	}
}

// h2tChanListener is a listener fed connections through ch.
type h2tChanListener struct {
	addr net.Addr
	ch   chan net.Conn
	done chan struct{}
	once sync.Once
}

func (l *h2tChanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *h2tChanListener) Close() error   { l.once.Do(func() { close(l.done) }); return nil }
func (l *h2tChanListener) Addr() net.Addr { return l.addr }

type h2tHandoffServer struct {
	srv *http.Server
	ln  *h2tChanListener
}

// h2tHandoff serves h2c with h on a listener fed from ln's connections.
func h2tHandoff(t testing.TB, ln net.Listener, h http.Handler) h2tHandoffServer {
	l := &h2tChanListener{addr: ln.Addr(), ch: make(chan net.Conn), done: make(chan struct{})}
	srv := &http.Server{Handler: h, Protocols: new(http.Protocols)}
	srv.Protocols.SetUnencryptedHTTP2(true)
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return h2tHandoffServer{srv: srv, ln: l}
}

// TestH2GoAwayLastStream sends three streams and a GOAWAY whose last
// stream is the first: that one completes, the body-less one above it is
// retried on a new connection, the one with a body fails as refused.
func TestH2GoAwayLastStream(t *testing.T) {
	got := make(chan string, 3)
	addr := h2tRawServer(t, func(i int, rc *h2tRaw) {
		if i > 0 {
			for {
				h, err := rc.request()
				if err != nil {
					return
				}
				if rc.respond(h.StreamID, "again "+h.PseudoValue("path")) != nil {
					return
				}
			}
		}
		var first uint32
		for n := range 3 {
			h, err := rc.request()
			if err != nil {
				return
			}
			if n == 0 {
				first = h.StreamID
			}
			got <- h.PseudoValue("path")
		}
		if rc.fr.WriteGoAway(first, http2.ErrCodeNo, nil) != nil || rc.respond(first, "first") != nil {
			return
		}
		rc.drain()
	})
	tr := h2tClient(t, "h2c", nil, 0)
	ctx := h2tCtx(t)
	type result struct {
		body string
		err  error
	}
	send := func(path string, body io.Reader) chan result {
		out := make(chan result, 1)
		go func() {
			res, err := tr.RoundTrip(h2tRequest(t, ctx, http.MethodPost, "http://"+addr+path, body))
			if err != nil {
				out <- result{err: err}
				return
			}
			b, err := io.ReadAll(res.Body)
			_ = res.Body.Close()
			out <- result{string(b), err}
		}()
		h2tRecv(t, got, "the server to see "+path)
		return out
	}
	a := send("/a", nil)
	b := send("/b", nil)
	c := send("/c", strings.NewReader("body"))
	if r := h2tRecv(t, a, "/a"); r.err != nil || r.body != "first" {
		t.Errorf("/a: %q, %v", r.body, r.err)
	}
	if r := h2tRecv(t, b, "/b"); r.err != nil || r.body != "again /b" {
		t.Errorf("/b: %q, %v; want it retried on a new connection", r.body, r.err)
	}
	if r := h2tRecv(t, c, "/c"); !errors.Is(r.err, errH2Refused) {
		t.Errorf("/c: %q, %v; want errH2Refused", r.body, r.err)
	}
}

// TestH2ResetStream covers RST_STREAM from the server: mid-body it is a
// read error; REFUSED_STREAM before headers retries a body-less request
// and fails one with a body as refused.
func TestH2ResetStream(t *testing.T) {
	addr := h2tRawServer(t, func(i int, rc *h2tRaw) {
		refuse := true // every other /refuse stream
		for {
			h, err := rc.request()
			if err != nil {
				return
			}
			id := h.StreamID
			switch p := h.PseudoValue("path"); {
			case p == "/mid":
				err = rc.headers(id, false, ":status", "200")
				if err == nil {
					err = rc.fr.WriteData(id, false, []byte("partial"))
				}
				if err == nil {
					err = rc.fr.WriteRSTStream(id, http2.ErrCodeInternal)
				}
			case p == "/body" || refuse:
				refuse = p == "/body"
				err = rc.fr.WriteRSTStream(id, http2.ErrCodeRefusedStream)
			default:
				refuse = true
				err = rc.respond(id, "retried")
			}
			if err != nil {
				return
			}
		}
	})
	tr := h2tClient(t, "h2c", nil, 0)
	url := "http://" + addr
	t.Run("mid-body", func(t *testing.T) {
		res, err := tr.RoundTrip(h2tRequest(t, h2tCtx(t), http.MethodGet, url+"/mid", nil))
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		var se http2.StreamError
		if string(b) != "partial" || !errors.As(err, &se) || se.Code != http2.ErrCodeInternal {
			t.Fatalf("read %q, %v; want partial, then the reset", b, err)
		}
	})
	t.Run("refused without body", func(t *testing.T) {
		res, err := tr.RoundTrip(h2tRequest(t, h2tCtx(t), http.MethodGet, url+"/refuse", nil))
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		if b, err := io.ReadAll(res.Body); err != nil || string(b) != "retried" {
			t.Fatalf("body %q, %v", b, err)
		}
	})
	t.Run("refused with NoBody", func(t *testing.T) {
		res, err := tr.RoundTrip(h2tRequest(t, h2tCtx(t), http.MethodGet, url+"/refuse", http.NoBody))
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		if b, err := io.ReadAll(res.Body); err != nil || string(b) != "retried" {
			t.Fatalf("body %q, %v", b, err)
		}
	})
	t.Run("refused with body", func(t *testing.T) {
		_, err := tr.RoundTrip(h2tRequest(t, h2tCtx(t), http.MethodPost, url+"/body", strings.NewReader("x")))
		if !errors.Is(err, errH2Refused) {
			t.Fatalf("error %v, want errH2Refused", err)
		}
	})
}

// TestH2Malformed answers the first request with something HTTP/2 does
// not allow: the request fails, at RoundTrip or while reading the body,
// without a panic or a hang.
func TestH2Malformed(t *testing.T) {
	big := strings.Repeat("a", h2MaxHeaderList+1024)
	for _, tc := range []struct {
		name  string
		serve func(rc *h2tRaw, id uint32) error
	}{
		{"missing :status", func(rc *h2tRaw, id uint32) error {
			return rc.headers(id, true, "content-type", "text/plain")
		}},
		{"status 101", func(rc *h2tRaw, id uint32) error { return rc.headers(id, true, ":status", "101") }},
		{"informational then end", func(rc *h2tRaw, id uint32) error { return rc.headers(id, true, ":status", "103") }},
		{"invalid header name", func(rc *h2tRaw, id uint32) error {
			return rc.headers(id, true, ":status", "200", "bad name", "x")
		}},
		{"DATA before HEADERS", func(rc *h2tRaw, id uint32) error { return rc.fr.WriteData(id, true, []byte("x")) }},
		{"trailers without END_STREAM", func(rc *h2tRaw, id uint32) error {
			if err := rc.headers(id, false, ":status", "200"); err != nil {
				return err
			}
			return rc.headers(id, false, "x-trailer", "t")
		}},
		{"DATA past the stream window", func(rc *h2tRaw, id uint32) error {
			if err := rc.headers(id, false, ":status", "200"); err != nil {
				return err
			}
			chunk := make([]byte, 16<<10)
			for sent := 0; sent <= h2RecvStreamWindow; sent += len(chunk) {
				if err := rc.fr.WriteData(id, false, chunk); err != nil {
					return err
				}
			}
			return nil
		}},
		{"headers over 1 MiB", func(rc *h2tRaw, id uint32) error {
			block := rc.block(":status", "200", "x-big", big)
			if err := rc.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: block[:16<<10]}); err != nil {
				return err
			}
			for block = block[16<<10:]; len(block) > 0; {
				n := min(len(block), 16<<10)
				if err := rc.fr.WriteContinuation(id, n == len(block), block[:n]); err != nil {
					return err
				}
				block = block[n:]
			}
			return nil
		}},
		{"PUSH_PROMISE", func(rc *h2tRaw, id uint32) error {
			return rc.fr.WritePushPromise(http2.PushPromiseParam{StreamID: id, PromiseID: 2, EndHeaders: true,
				BlockFragment: rc.block(":method", "GET", ":scheme", "http", ":authority", "x", ":path", "/pushed")})
		}},
		{"HEADERS on a server stream", func(rc *h2tRaw, id uint32) error { return rc.headers(2, true, ":status", "200") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := h2tRawServer(t, func(_ int, rc *h2tRaw) {
				h, err := rc.request()
				if err == nil && tc.serve(rc, h.StreamID) == nil {
					rc.drain()
				}
			})
			tr := h2tClient(t, "h2c", nil, 0)
			res, err := tr.RoundTrip(h2tRequest(t, h2tCtx(t), http.MethodGet, "http://"+addr+"/", nil))
			if err == nil {
				// Read only once the stream failed: reading earlier would
				// refund the window the server overruns.
				h2tWait(t, "the stream to fail", func() bool { return h2tStreamErr(res) != nil })
				_, err = io.ReadAll(res.Body)
				_ = res.Body.Close()
			}
			if err == nil {
				t.Fatal("no error")
			}
		})
	}
}

// --- connection lifetime ---

// TestH2IdleTimeout checks a connection without streams is closed after
// the idle timeout.
func TestH2IdleTimeout(t *testing.T) {
	closed := make(chan struct{}, 1)
	srv := h2tServer(t, func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") },
		func(s *http.Server) {
			s.ConnState = func(_ net.Conn, st http.ConnState) {
				if st == http.StateClosed {
					closed <- struct{}{}
				}
			}
		})
	tr := h2tClient(t, "h2c", nil, 50*time.Millisecond)
	res, err := tr.RoundTrip(h2tRequest(t, h2tCtx(t), http.MethodGet, srv.URL, nil))
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	_ = res.Body.Close()
	h2tRecv(t, closed, "the idle connection to close")
	if n := h2tConns(tr); n != 0 {
		t.Errorf("%d connections left in the pool", n)
	}
}

// TestH2CloseIdleConnections checks CloseIdleConnections sends GOAWAY and
// closes a connection whose response was read to the end, and leaves a
// connection with a running stream alone.
func TestH2CloseIdleConnections(t *testing.T) {
	goaway := make(chan http2.ErrCode, 2)
	addr := h2tRawServer(t, func(_ int, rc *h2tRaw) {
		for {
			f, err := rc.next()
			if err != nil {
				return
			}
			switch f := f.(type) {
			case *http2.MetaHeadersFrame:
				if f.PseudoValue("path") == "/hold" {
					err = rc.headers(f.StreamID, false, ":status", "200")
				} else {
					err = rc.respond(f.StreamID, "ok")
				}
			case *http2.GoAwayFrame:
				goaway <- f.ErrCode
			}
			if err != nil {
				return
			}
		}
	})
	tr := h2tClient(t, "h2c", nil, 0)
	res, err := tr.RoundTrip(h2tRequest(t, h2tCtx(t), http.MethodGet, "http://"+addr+"/", nil))
	if err != nil {
		t.Fatal(err)
	}
	if b, err := io.ReadAll(res.Body); err != nil || string(b) != "ok" {
		t.Fatalf("body %q, %v", b, err)
	}
	_ = res.Body.Close()
	tr.CloseIdleConnections()
	if code := h2tRecv(t, goaway, "GOAWAY"); code != http2.ErrCodeNo {
		t.Errorf("GOAWAY code %v, want NO_ERROR", code)
	}
	if n := h2tConns(tr); n != 0 {
		t.Errorf("%d connections left in the pool", n)
	}

	held, err := tr.RoundTrip(h2tRequest(t, h2tCtx(t), http.MethodGet, "http://"+addr+"/hold", nil))
	if err != nil {
		t.Fatal(err)
	}
	defer held.Body.Close()
	tr.CloseIdleConnections()
	if n := h2tConns(tr); n != 1 {
		t.Errorf("a connection with a running stream was closed: %d left", n)
	}
}

// TestH2ServerClosesAtOnce dials an upstream that accepts and closes every
// connection: the request fails promptly instead of dialing in a loop.
func TestH2ServerClosesAtOnce(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	var accepts atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepts.Add(1)
			_ = c.Close()
		}
	}()
	tr := h2tClient(t, "h2c", nil, 0)
	for range 20 {
		_, err := tr.RoundTrip(h2tRequest(t, h2tCtx(t), http.MethodGet, "http://"+ln.Addr().String()+"/", nil))
		if err == nil || errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("error %v, want the connection's failure", err)
		}
	}
	if n := accepts.Load(); n > 60 {
		t.Errorf("%d connections for 20 requests", n)
	}
}

// --- HPACK ---

// TestH2EncodeRequestHeaders decodes the encoder's output with x/net's
// decoder: pseudo-headers first, names lower-cased, hop-by-hop fields
// dropped, credentials never indexed, lengths in several bytes.
func TestH2EncodeRequestHeaders(t *testing.T) {
	req := httptest.NewRequest(http.MethodPatch, "http://backend.internal:8080/a/b?c=d", strings.NewReader("12345"))
	req.Host = "front.example"
	req.Header = http.Header{}
	want := map[string]string{}
	set := func(name, value string) {
		req.Header[name] = append(req.Header[name], value)
		want[strings.ToLower(name)] += value + "|"
	}
	set("Authorization", "Bearer x")
	set("Cookie", "a=b")
	set("x-lower", "v")
	set("Te", "trailers")
	for _, n := range []int{0, 126, 127, 128, 255, 256, 16383, 16384, 20000} {
		set(fmt.Sprintf("X-Len-%d", n), strings.Repeat("v", n))
	}
	for i := range 150 {
		set(fmt.Sprintf("X-Many-%03d", i), fmt.Sprint(i))
	}
	for _, hop := range []string{"Connection", "Keep-Alive", "Proxy-Connection", "Transfer-Encoding", "Host", "Content-Length"} {
		req.Header.Set(hop, "dropped")
	}
	req.Trailer = http.Header{"X-Check": nil} // announced in a trailer field
	want["trailer"] = "X-Check|"
	block, size, err := encodeRequestHeaders(nil, req, true)
	if err != nil {
		t.Fatal(err)
	}
	fields, err := hpack.NewDecoder(4096, nil).DecodeFull(block)
	if err != nil {
		t.Fatal(err)
	}
	pseudo := []string{":method", "PATCH", ":scheme", "https", ":authority", "front.example", ":path", "/a/b?c=d", "content-length", "5"}
	gotSize := 0
	got := map[string]string{}
	for i, f := range fields {
		gotSize += int(f.Size())
		if i < len(pseudo)/2 {
			if f.Name != pseudo[2*i] || f.Value != pseudo[2*i+1] {
				t.Errorf("field %d is %s: %q, want %s: %q", i, f.Name, f.Value, pseudo[2*i], pseudo[2*i+1])
			}
			continue
		}
		if f.Name != strings.ToLower(f.Name) {
			t.Errorf("name %q is not lower case", f.Name)
		}
		if sensitive := f.Name == "authorization" || f.Name == "cookie"; f.Sensitive != sensitive {
			t.Errorf("%s never-indexed = %v, want %v", f.Name, f.Sensitive, sensitive)
		}
		got[f.Name] += f.Value + "|"
	}
	if len(got) != len(want) {
		t.Errorf("%d distinct fields, want %d", len(got), len(want))
	}
	for name, v := range want {
		if got[name] != v {
			t.Errorf("%s = %.40q, want %.40q", name, got[name], v)
		}
	}
	if size != gotSize {
		t.Errorf("size %d, want %d (RFC 9113 6.5.2)", size, gotSize)
	}
}

// TestH2HpackInt checks the integer encoding against RFC 7541 C.1.
func TestH2HpackInt(t *testing.T) {
	for _, tc := range []struct {
		n    uint
		v    uint64
		want []byte
	}{
		{5, 10, []byte{0x0a}},
		{5, 1337, []byte{0x1f, 0x9a, 0x0a}},
		{8, 42, []byte{0x2a}},
		{7, 127, []byte{0x7f, 0x00}},
		{7, 128, []byte{0x7f, 0x01}},
	} {
		if got := hpackInt(nil, 0, tc.n, tc.v); !bytes.Equal(got, tc.want) {
			t.Errorf("hpackInt(%d bits, %d) = %x, want %x", tc.n, tc.v, got, tc.want)
		}
	}
}

// TestH2EncodeRejects lists requests HTTP/2 cannot carry.
func TestH2EncodeRejects(t *testing.T) {
	for name, mod := range map[string]func(*http.Request){
		"CONNECT":       func(r *http.Request) { r.Method = http.MethodConnect },
		"upgrade":       func(r *http.Request) { r.Header.Set("Upgrade", "websocket") },
		"TE gzip":       func(r *http.Request) { r.Header.Set("Te", "gzip") },
		"bad name":      func(r *http.Request) { r.Header["Bad Name"] = []string{"x"} },
		"bad value":     func(r *http.Request) { r.Header.Set("X-A", "a\nb") },
		"bad method":    func(r *http.Request) { r.Method = "GE T" },
		"bad authority": func(r *http.Request) { r.Host = "a b" },
	} {
		t.Run(name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "http://x/", nil)
			mod(req)
			if _, _, err := encodeRequestHeaders(nil, req, false); err == nil {
				t.Fatal("no error")
			}
		})
	}
}

// TestH2LargeHeaderBlock sends a header block over 16 KiB, which needs
// CONTINUATION frames: the server receives every field.
func TestH2LargeHeaderBlock(t *testing.T) {
	got := make(chan http.Header, 1)
	srv := h2tServer(t, func(w http.ResponseWriter, r *http.Request) { got <- r.Header }, nil)
	tr := h2tClient(t, "h2c", nil, 0)
	req := h2tRequest(t, h2tCtx(t), http.MethodGet, srv.URL, nil)
	for i := range 40 {
		req.Header.Set(fmt.Sprintf("X-Field-%d", i), strings.Repeat(string(rune('a'+i%26)), 1500))
	}
	req.Header.Set("X-Huge", strings.Repeat("h", 20000))
	res, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	h := h2tRecv(t, got, "the request")
	for name, v := range req.Header {
		if h.Get(name) != v[0] {
			t.Errorf("%s arrived as %.20q (%d bytes), want %d bytes", name, h.Get(name), len(h.Get(name)), len(v[0]))
		}
	}
}

// BenchmarkH2RoundTrip is a small POST through the client to an h2c
// server, from parallel goroutines.
func BenchmarkH2RoundTrip(b *testing.B) {
	srv := h2tServer(b, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		_, _ = io.WriteString(w, "ok")
	}, nil)
	tr := h2tClient(b, "h2c", nil, 0)
	payload := []byte(`{"hello":"world"}`)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest(http.MethodPost, srv.URL+"/bench", bytes.NewReader(payload))
			req.Header.Set("Content-Type", "application/json")
			res, err := tr.RoundTrip(req)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, res.Body)
			_ = res.Body.Close()
		}
	})
}
