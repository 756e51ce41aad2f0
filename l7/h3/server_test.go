package h3

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"
)

// echo serves the digest of the request body and the request's fields.
func echo(w http.ResponseWriter, r *http.Request) {
	sum := sha256.New()
	n, err := io.Copy(sum, r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.Header().Set("X-Body-Bytes", itoa(n))
	w.Header().Set("X-Proto", r.Proto)
	w.Header().Set("X-Host", r.Host)
	w.Header().Set("X-Remote", r.RemoteAddr)
	if r.TLS != nil {
		w.Header().Set("X-SNI", r.TLS.ServerName)
	}
	_, _ = io.WriteString(w, hex.EncodeToString(sum.Sum(nil)))
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestRequests(t *testing.T) {
	f := start(t, Options{Handler: http.HandlerFunc(echo)})
	c := f.client(t)
	big := make([]byte, 1<<20)
	_, _ = rand.Read(big)
	bigSum := sha256.Sum256(big)
	emptySum := sha256.Sum256(nil)
	for _, tc := range []struct {
		name, method string
		body         []byte
		want         string
	}{
		{"get", http.MethodGet, nil, hex.EncodeToString(emptySum[:])},
		{"post 1 MiB", http.MethodPost, big, hex.EncodeToString(bigSum[:])},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, f.url("/echo"), bytes.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			got, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != http.StatusOK || string(got) != tc.want {
				t.Fatalf("status %d body %q, want 200 %q", resp.StatusCode, got, tc.want)
			}
			if n := resp.Header.Get("X-Body-Bytes"); n != itoa(int64(len(tc.body))) {
				t.Errorf("handler read %s bytes, want %d", n, len(tc.body))
			}
		})
	}
}

func TestRequestFields(t *testing.T) {
	f := start(t, Options{Handler: http.HandlerFunc(echo)})
	resp, err := f.client(t).Get(f.url("/fields"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for _, tc := range []struct{ header, want string }{
		{"X-Proto", "HTTP/3.0"},
		{"X-Host", f.addr.String()},
		{"X-SNI", serverName},
	} {
		if got := resp.Header.Get(tc.header); got != tc.want {
			t.Errorf("%s = %q, want %q", tc.header, got, tc.want)
		}
	}
	if remote := resp.Header.Get("X-Remote"); !strings.HasPrefix(remote, "127.0.0.1:") {
		t.Errorf("RemoteAddr = %q, want 127.0.0.1:port", remote)
	}
	if resp.Proto != "HTTP/3.0" {
		t.Errorf("client saw %s", resp.Proto)
	}
}

func TestStreamingResponse(t *testing.T) {
	next := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "first;")
		w.(http.Flusher).Flush()
		select {
		case <-next:
		case <-r.Context().Done():
			return
		}
		_, _ = io.WriteString(w, "second")
	})
	f := start(t, Options{Handler: h})
	resp, err := f.client(t).Get(f.url("/stream"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	first := make([]byte, len("first;"))
	if _, err := io.ReadFull(resp.Body, first); err != nil || string(first) != "first;" {
		t.Fatalf("first chunk %q, %v", first, err)
	}
	close(next) // the handler writes the second chunk only now
	rest, err := io.ReadAll(resp.Body)
	if err != nil || string(rest) != "second" {
		t.Fatalf("second chunk %q, %v", rest, err)
	}
}

// TestHeaderLimit: headers over MaxHeaderBytes get a 431 response (quic-go
// also stops the request stream with H3_EXCESSIVE_LOAD); headers under it
// pass.
func TestHeaderLimit(t *testing.T) {
	f := start(t, Options{Handler: http.HandlerFunc(echo), MaxHeaderBytes: 4096})
	c := f.client(t)
	for _, tc := range []struct {
		name string
		size int
		want int
	}{
		{"under", 1000, http.StatusOK},
		{"over", 8000, http.StatusRequestHeaderFieldsTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, f.url("/"), nil)
			req.Header.Set("X-Big", strings.Repeat("a", tc.size))
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.want)
			}
		})
	}
}

func TestShutdownLetsRequestFinish(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			close(entered)
			select { // a failed test closes the connection
			case <-release:
			case <-r.Context().Done():
			}
		}
		_, _ = io.WriteString(w, "done")
	})
	f := start(t, Options{Handler: h})
	_, cc := f.dial(t, f.addr, f.clientTLS(), false)

	slow := make(chan string, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodGet, f.url("/slow"), nil)
		resp, err := cc.RoundTrip(req)
		if err != nil {
			slow <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		slow <- string(b)
	}()
	<-entered
	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		shut <- f.srv.Shutdown(ctx)
	}()

	waitRefused(t, f, cc)
	if got := f.srv.AltSvc(); got != "" {
		t.Errorf("AltSvc during shutdown = %q, want empty", got)
	}
	close(release)
	if got := <-slow; got != "done" {
		t.Fatalf("request in flight: %q, want done", got)
	}
	if err := <-shut; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	// A new connection is not accepted any more.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	qc := &quic.Config{HandshakeIdleTimeout: 300 * time.Millisecond}
	if conn, err := quic.DialAddr(ctx, f.addr.String(), f.clientTLS(), qc); err == nil {
		_ = conn.CloseWithError(0, "")
		t.Fatal("new connection accepted after Shutdown")
	}
	if err := <-f.done; !errors.Is(err, http.ErrServerClosed) {
		t.Fatalf("Serve returned %v", err)
	}
	f.done <- http.ErrServerClosed // for the cleanup
}

// waitRefused sends requests on cc until one is refused: they succeed
// until the shutdown reaches the connection, and are refused after it
// (GOAWAY, or the stream reset with H3_REQUEST_REJECTED).
func waitRefused(t *testing.T, f *fixture, cc *http3.ClientConn) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		req, _ := http.NewRequest(http.MethodGet, f.url("/quick"), nil)
		resp, err := cc.RoundTrip(req)
		if err != nil {
			return
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	t.Fatal("requests still served 5 s after Shutdown")
}

// TestMaxIncomingStreams: the limit reaches the client as QUIC stream
// credit, so a client with one request in flight cannot open another.
func TestMaxIncomingStreams(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	f := start(t, Options{MaxIncomingStreams: 1, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		select { // a failed test closes the connection
		case <-release:
		case <-r.Context().Done():
		}
	})})
	conn, cc := f.dial(t, f.addr, f.clientTLS(), false)
	done := make(chan error, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodGet, f.url("/"), nil)
		resp, err := cc.RoundTrip(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	<-entered
	_, err := conn.OpenStream()
	var limit *quic.StreamLimitReachedError
	if !errors.As(err, &limit) {
		t.Errorf("second stream: %v, want the stream limit", err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestNewRejects(t *testing.T) {
	ok, tc0 := http.NotFoundHandler(), &tls.Config{}
	for name, o := range map[string]Options{
		"no tls":                {Handler: ok},
		"no handler":            {TLS: tc0},
		"negative retry":        {TLS: tc0, Handler: ok, RetryAbove: -1},
		"negative header limit": {TLS: tc0, Handler: ok, MaxHeaderBytes: -1},
		"negative streams":      {TLS: tc0, Handler: ok, MaxIncomingStreams: -1},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := New(o); err == nil {
				t.Fatal("New accepted bad options")
			}
		})
	}
}
