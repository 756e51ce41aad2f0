package cache

import (
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bouncer-proxy/bouncer/l7"
)

// clock is the controlled time the cache and the origin read.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// originFunc answers the n-th request (from 1) the origin receives.
type originFunc func(w http.ResponseWriter, r *http.Request, n int)

// harness is a real origin server, a reverse proxy to it as the cache's
// next handler, and a front server running the cache.
type harness struct {
	t      testing.TB
	clk    *clock
	calls  atomic.Int64
	down   atomic.Bool
	cache  *Cache
	store  Store
	front  *httptest.Server
	client *http.Client
}

// newHarness starts the servers. The origin sets Date from the clock
// before calling fn; when h.down is set it drops the connection instead.
// A request gets the l7.Identity testIdentity reads from its headers, as
// an authentication policy would give it.
func newHarness(t testing.TB, opts Options, store Store, fn originFunc) *harness {
	h := &harness{t: t, clk: newClock(), store: store}
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := int(h.calls.Add(1))
		if h.down.Load() {
			panic(http.ErrAbortHandler)
		}
		w.Header().Set("Date", h.clk.Now().Format(http.TimeFormat))
		fn(w, r, n)
	}))
	origin.Config.ErrorLog = log.New(io.Discard, "", 0)
	u, _ := url.Parse(origin.URL)
	proxy := httputil.NewSingleHostReverseProxy(u)
	proxy.ErrorLog = log.New(io.Discard, "", 0)
	// A fresh connection per request: the transport then never retries a
	// dropped one, so origin calls count requests exactly.
	proxy.Transport = &http.Transport{DisableKeepAlives: true}
	if opts.Now == nil {
		opts.Now = h.clk.Now
	}
	if h.store == nil {
		h.store = NewMemoryStore(0)
	}
	c, err := New(opts, h.store)
	if err != nil {
		t.Fatal(err)
	}
	h.cache = c
	wrapped := c.Wrap(proxy)
	h.front = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if id := testIdentity(r.Header); id != nil {
			r = r.WithContext(l7.WithInfo(r.Context(), &l7.Info{Identity: id}))
		}
		wrapped.ServeHTTP(w, r)
	}))
	h.client = &http.Client{
		Transport:     &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 64},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       10 * time.Second,
	}
	t.Cleanup(func() {
		h.front.Close()
		c.Close()
		origin.Close()
	})
	return h
}

// testIdentity is the identity a request asks for: X-Test-Consumer
// names an api_key consumer ("anon:NAME" the anonymous one), or
// X-Test-Method, X-Test-Consumer and X-Test-Subject set those fields.
func testIdentity(h http.Header) *l7.Identity {
	consumer, method := h.Get("X-Test-Consumer"), h.Get("X-Test-Method")
	switch {
	case method != "":
		return &l7.Identity{Method: method, Consumer: consumer, Subject: h.Get("X-Test-Subject")}
	case consumer == "":
		return nil
	}
	if c, ok := strings.CutPrefix(consumer, "anon:"); ok {
		return &l7.Identity{Method: "anonymous", Consumer: c}
	}
	return &l7.Identity{Method: "api_key", Consumer: consumer}
}

// do sends one request through the cache and returns the response with
// its body read.
func (h *harness) do(method, path string, hdr map[string]string) (*http.Response, string) {
	h.t.Helper()
	req, err := http.NewRequest(method, h.front.URL+path, nil)
	if err != nil {
		h.t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := h.client.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	return resp, string(b)
}

// waitIdle waits for background revalidations started so far: they
// are counted in before the stale response is written.
func (h *harness) waitIdle() { h.cache.bg.Wait() }

// serveBody writes status, the headers in kv pairs, and "v<n>".
func serveBody(status int, kv ...string) originFunc {
	return func(w http.ResponseWriter, r *http.Request, n int) {
		for i := 0; i+1 < len(kv); i += 2 {
			w.Header().Set(kv[i], kv[i+1])
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, "v"+strconv.Itoa(n))
	}
}
