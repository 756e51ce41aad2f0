package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// heldBackend answers each request only when released (or after 10s),
// and reports each arrival on entered.
type heldBackend struct {
	*httptest.Server
	entered chan string // request paths, as they arrive
	release chan struct{}
	once    sync.Once
}

func newHeldBackend(t *testing.T) *heldBackend {
	t.Helper()
	b := &heldBackend{entered: make(chan string, 16), release: make(chan struct{})}
	b.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.entered <- r.URL.Path
		select {
		case <-b.release:
		case <-r.Context().Done():
			return
		case <-time.After(10 * time.Second):
		}
		fmt.Fprintf(w, "done %s", r.URL.Path)
	}))
	t.Cleanup(func() { b.Release(); b.Close() })
	return b
}

// Release lets every held request (and every later one) finish.
func (b *heldBackend) Release() { b.once.Do(func() { close(b.release) }) }

// waitEntered waits (bounded) until n requests reached the backend.
func (b *heldBackend) waitEntered(t *testing.T, n int) {
	t.Helper()
	for range n {
		select {
		case <-b.entered:
		case <-time.After(10 * time.Second):
			t.Fatal("request did not reach the backend within 10s")
		}
	}
}

// result is the outcome of one request made in the background.
type result struct {
	code int
	body string
	err  error
}

// getAsync sends GET url with c and delivers the outcome on the channel.
func getAsync(c *http.Client, url string) <-chan result {
	ch := make(chan result, 1)
	go func() {
		resp, err := c.Get(url)
		if err != nil {
			ch <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		ch <- result{code: resp.StatusCode, body: string(b), err: err}
	}()
	return ch
}

func await(t *testing.T, ch <-chan result) result {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(15 * time.Second):
		t.Fatal("request did not finish within 15s")
		return result{}
	}
}

func drainConfig(t *testing.T, backend, timeout string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "bouncer.yaml")
	writeFile(t, path, fmt.Sprintf(`
admin: {address: "127.0.0.1:0"}
server: {shutdown_timeout: %s}
listeners:
  - {name: web, address: "127.0.0.1:0"}
routes:
  - proxy: {upstream: app}
upstreams:
  app: {endpoints: [%s]}
`, timeout, backend))
	return path
}

// waitRefused polls until new connections to addr are refused.
func waitRefused(t *testing.T, addr string) {
	t.Helper()
	eventually(t, 10*time.Second, "new connections to be refused", func() bool {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			return false
		}
		return errors.Is(err, syscall.ECONNREFUSED)
	})
}

// TestSIGTERMDrains: on SIGTERM, requests in flight (HTTP/1.1 and h2c)
// complete, new connections are refused, /readyz says draining, and the
// process exits 0 once they are done.
func TestSIGTERMDrains(t *testing.T) {
	t.Parallel()
	b := newHeldBackend(t)
	p := startBouncer(t, drainConfig(t, hostPort(b.URL), "5s"))
	web := p.url("web")
	h1 := getAsync(h1Client(), web+"/slow-h1")
	h2 := getAsync(h2cClient(), web+"/slow-h2c")
	b.waitEntered(t, 2)

	p.signal(syscall.SIGTERM)
	sent := time.Now()
	waitRefused(t, hostPort(web))
	if code, body := p.adminGet("/readyz"); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz while draining: %d %s, want 503", code, body)
	}
	select {
	case <-p.exited:
		t.Fatal("bouncer exited with requests in flight")
	default:
	}

	b.Release()
	for name, ch := range map[string]<-chan result{"/slow-h1": h1, "/slow-h2c": h2} {
		if r := await(t, ch); r.err != nil || r.code != http.StatusOK || r.body != "done "+name {
			t.Errorf("in-flight %s: %d %q %v", name, r.code, r.body, r.err)
		}
	}
	if code := p.waitExit(5 * time.Second); code != 0 {
		t.Errorf("exit code %d, want 0", code)
	}
	if d := time.Since(sent); d > 5*time.Second {
		t.Errorf("exit took %v, more than shutdown_timeout", d)
	}
}

// TestSIGTERMDeadline: a request still running when shutdown_timeout ends
// has its connection closed, and the process exits 0 anyway.
func TestSIGTERMDeadline(t *testing.T) {
	t.Parallel()
	b := newHeldBackend(t)
	p := startBouncer(t, drainConfig(t, hostPort(b.URL), "200ms"))
	ch := getAsync(h1Client(), p.url("web")+"/too-slow")
	b.waitEntered(t, 1)

	p.signal(syscall.SIGTERM)
	sent := time.Now()
	r := await(t, ch)
	t.Logf("client saw: %v", r.err)
	if r.err == nil {
		t.Errorf("client got %d %q; want its connection closed", r.code, r.body)
	} else if isTimeout(r.err) {
		t.Errorf("client timed out instead of seeing the connection closed: %v", r.err)
	}
	if code := p.waitExit(10 * time.Second); code != 0 {
		t.Errorf("exit code %d, want 0", code)
	}
	if d := time.Since(sent); d < 200*time.Millisecond {
		t.Errorf("exited %v after SIGTERM, before shutdown_timeout", d)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// TestSIGTERMWaitsForRetiredServers: a request running on a listener's
// server that a reload replaced (its settings changed) still completes
// when SIGTERM follows the reload; the process exits once it has.
func TestSIGTERMWaitsForRetiredServers(t *testing.T) {
	t.Parallel()
	b := newHeldBackend(t)
	path := drainConfig(t, hostPort(b.URL), "5s")
	p := startBouncer(t, path)
	ch := getAsync(h1Client(), p.url("web")+"/inflight")
	b.waitEntered(t, 1)

	text, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	changed := strings.Replace(string(text), `{name: web, address: "127.0.0.1:0"}`,
		fmt.Sprintf(`{name: web, address: %q, limits: {idle_timeout: 61s}}`, hostPort(p.url("web"))), 1)
	writeFile(t, path, changed)
	p.signal(syscall.SIGHUP)
	p.waitStatus("the reload that replaces web's server", func(s reloadStatus) bool { return s.Generation == 2 })

	p.signal(syscall.SIGTERM)
	waitRefused(t, hostPort(p.url("web")))
	select {
	case <-p.exited:
		t.Fatal("bouncer exited with a request in flight on the retired server")
	default:
	}
	b.Release()
	if r := await(t, ch); r.err != nil || r.code != http.StatusOK || r.body != "done /inflight" {
		t.Errorf("in-flight request: %d %q %v", r.code, r.body, r.err)
	}
	if code := p.waitExit(5 * time.Second); code != 0 {
		t.Errorf("exit code %d, want 0", code)
	}
}
