package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bouncer-proxy/bouncer/configs"
	"github.com/bouncer-proxy/bouncer/l4/upstream"
)

// gateFunc is a ConnGate that admits a connection when ok.
type gateFunc bool

func (g gateFunc) AcquireConn() (func(), bool) { return func() {}, bool(g) }

// closeCounter is an HTTP/1.1 backend answering "ok" that counts the
// connections it saw close.
type closeCounter struct {
	*httptest.Server
	closed atomic.Int64
}

func newCloseCounter(t *testing.T, ln net.Listener) *closeCounter {
	t.Helper()
	b := &closeCounter{}
	b.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok")
	}))
	if ln != nil {
		_ = b.Listener.Close()
		b.Listener = ln
	}
	b.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateClosed {
			b.closed.Add(1)
		}
	}
	b.Start()
	t.Cleanup(b.Close)
	return b
}

// fetch sends a GET to addr through rt and reads the answer to its end.
func fetch(t *testing.T, rt http.RoundTripper, addr string) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := rt.RoundTrip(req)
	if err != nil {
		return err
	}
	_, err = io.ReadAll(res.Body)
	_ = res.Body.Close()
	return err
}

// idleConns counts the pooled connections of an h1Transport by address.
func idleConns(rt http.RoundTripper) map[string]int {
	out := map[string]int{}
	for addr, p := range pointee(rt.(*h1Transport).pools.Load()) {
		out[addr] = p.size()
	}
	return out
}

// TestTransportsGetChangesNothingServing builds a generation that is never
// swapped in: the serving transport keeps its gate and its idle
// connections; only Retain, at the swap, switches the gate, retires a
// replaced transport and makes the new one reachable by CloseIdle.
func TestTransportsGetChangesNothingServing(t *testing.T) {
	b := newCloseCounter(t, nil)
	addr := b.Listener.Addr().String()
	base := configs.Upstream{IdleConns: 4}
	changed := configs.Upstream{IdleConns: 4, IdleTimeout: configs.Duration(time.Hour)}
	tr := NewTransports()
	t.Cleanup(tr.CloseIdle)
	serving, _, err := tr.Get("app", base, gateFunc(true))
	if err != nil {
		t.Fatal(err)
	}
	tr.Retain(map[string]bool{"app": true})
	if err := fetch(t, serving, addr); err != nil {
		t.Fatal(err)
	}

	t.Run("same settings, failed reload", func(t *testing.T) {
		if rt, _, _ := tr.Get("app", base, gateFunc(false)); rt != serving {
			t.Fatal("unchanged settings got a new transport")
		}
		tr.Abort()
		tr.CloseIdle() // the next fetch dials
		if err := fetch(t, serving, addr); err != nil {
			t.Fatalf("the serving transport took the unused generation's gate: %v", err)
		}
	})
	t.Run("changed settings, failed reload", func(t *testing.T) {
		if n := idleConns(serving)[addr]; n != 1 {
			t.Fatalf("%d idle connections before the reload, want 1", n)
		}
		if rt, _, _ := tr.Get("app", changed, gateFunc(true)); rt == serving {
			t.Fatal("changed settings reused the transport")
		}
		if n := idleConns(serving)[addr]; n != 1 {
			t.Fatalf("building a generation closed the serving transport's idle connections (%d left)", n)
		}
		tr.Abort()
		if rt, _, _ := tr.Get("app", base, gateFunc(true)); rt != serving {
			t.Fatal("after the failed reload the serving transport is no longer the upstream's")
		}
		tr.Abort()
	})
	t.Run("same settings, committed", func(t *testing.T) {
		_, _, _ = tr.Get("app", base, gateFunc(false))
		tr.Retain(map[string]bool{"app": true})
		tr.CloseIdle()
		if err := fetch(t, serving, addr); !errors.Is(err, errCircuitOpen) {
			t.Fatalf("fetch = %v; want the committed gate's refusal", err)
		}
		_, _, _ = tr.Get("app", base, gateFunc(true))
		tr.Retain(map[string]bool{"app": true})
	})
	t.Run("changed settings, committed", func(t *testing.T) {
		if err := fetch(t, serving, addr); err != nil {
			t.Fatal(err)
		}
		next, _, _ := tr.Get("app", changed, gateFunc(true))
		tr.Retain(map[string]bool{"app": true})
		if n := idleConns(serving)[addr]; n != 0 {
			t.Fatalf("the replaced transport kept %d idle connections", n)
		}
		if err := fetch(t, serving, addr); err != nil { // a request of the old generation
			t.Fatal(err)
		}
		if n := idleConns(serving)[addr]; n != 0 {
			t.Fatal("the retired transport pooled a connection")
		}
		if err := fetch(t, next, addr); err != nil {
			t.Fatal(err)
		}
		tr.CloseIdle()
		if n := idleConns(next)[addr]; n != 0 {
			t.Fatal("CloseIdle did not reach the committed transport")
		}
	})
}

// buildCluster builds upstream app of a YAML upstream block in reg.
func buildCluster(t *testing.T, reg *upstream.Registry, block string) *upstream.Cluster {
	t.Helper()
	yaml := "admin: {address: \"off\"}\nlisteners: [{name: web, address: \"127.0.0.1:0\"}]\n" +
		"routes: [{name: all, match: {prefix: /}, proxy: {upstream: app}}]\nupstreams:\n  app:\n" + block
	cfg, err := configs.Parse([]byte(yaml), "test.yaml")
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	c, err := reg.Build("app", cfg.Upstreams["app"])
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestH1PoolsFollowEndpoints checks that the pools of addresses that stop
// being endpoints are dropped, their idle connections closed: at the
// commit of a reload that removed one, and when DNS answers change.
func TestH1PoolsFollowEndpoints(t *testing.T) {
	t.Run("reload", func(t *testing.T) {
		a, b := newCloseCounter(t, nil), newCloseCounter(t, nil)
		addrA, addrB := a.Listener.Addr().String(), b.Listener.Addr().String()
		reg := upstream.NewRegistry(upstream.Options{})
		t.Cleanup(reg.Close)
		tr := NewTransports()
		t.Cleanup(tr.CloseIdle)
		c1 := buildCluster(t, reg, fmt.Sprintf("    endpoints: [%s, %s]\n", addrA, addrB))
		rt, _, _ := tr.Get("app", c1.Config(), c1)
		tr.Retain(map[string]bool{"app": true})
		for _, addr := range []string{addrA, addrB} {
			if err := fetch(t, rt, addr); err != nil {
				t.Fatal(err)
			}
		}
		c2 := buildCluster(t, reg, fmt.Sprintf("    endpoints: [%s]\n", addrB))
		if next, _, _ := tr.Get("app", c2.Config(), c2); next != rt {
			t.Fatal("the transport was not reused")
		}
		tr.Retain(map[string]bool{"app": true})
		if got := idleConns(rt); len(got) != 1 || got[addrB] != 1 {
			t.Fatalf("pools after the reload: %v; want only %s's", got, addrB)
		}
		h2tWait(t, "the removed endpoint's connection to close", func() bool { return a.closed.Load() == 1 })
	})
	t.Run("dns", func(t *testing.T) {
		ln1, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln1.Addr().(*net.TCPAddr).Port
		ln2, err := net.Listen("tcp", fmt.Sprintf("127.0.0.2:%d", port))
		if err != nil {
			_ = ln1.Close()
			t.Skipf("no second loopback address: %v", err)
		}
		old, cur := newCloseCounter(t, ln1), newCloseCounter(t, ln2)
		var mu sync.Mutex
		answer := "127.0.0.1"
		lookup := func(context.Context, string) ([]string, error) {
			mu.Lock()
			defer mu.Unlock()
			return []string{answer}, nil
		}
		reg := upstream.NewRegistry(upstream.Options{LookupHost: lookup})
		t.Cleanup(reg.Close)
		c := buildCluster(t, reg, fmt.Sprintf("    endpoints: [app.test:%d]\n    dns_refresh: 10ms\n", port))
		reg.Activate(map[string]*upstream.Cluster{"app": c})
		tr := NewTransports()
		t.Cleanup(tr.CloseIdle)
		rt, _, _ := tr.Get("app", c.Config(), c)
		tr.Retain(map[string]bool{"app": true})
		if err := fetch(t, rt, old.Listener.Addr().String()); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		answer = "127.0.0.2"
		mu.Unlock()
		newAddr := cur.Listener.Addr().String()
		h2tWait(t, "the new DNS answer", func() bool {
			eps := c.Endpoints()
			return len(eps) == 1 && eps[0].Address() == newAddr
		})
		if err := fetch(t, rt, newAddr); err != nil {
			t.Fatal(err)
		}
		if got := idleConns(rt); len(got) != 1 || got[newAddr] != 1 {
			t.Fatalf("pools after the DNS change: %v; want only %s's", got, newAddr)
		}
		h2tWait(t, "the old address's connection to close", func() bool { return old.closed.Load() == 1 })
	})
}

// TestH2RetireClosesWhenIdle retires an h2 transport while a stream is
// open: the connection stays for that stream and closes when it ends.
func TestH2RetireClosesWhenIdle(t *testing.T) {
	started, release := make(chan struct{}), make(chan struct{})
	srv := h2tServer(t, func(w http.ResponseWriter, r *http.Request) {
		close(started)
		select {
		case <-release:
		case <-r.Context().Done():
		}
		_, _ = io.WriteString(w, "ok")
	}, nil)
	tr := h2tClient(t, "h2c", nil, 0)
	errc := make(chan error, 1)
	go func() {
		res, err := tr.RoundTrip(h2tRequest(t, h2tCtx(t), http.MethodGet, srv.URL, nil))
		if err == nil {
			_, err = io.ReadAll(res.Body)
			_ = res.Body.Close()
		}
		errc <- err
	}()
	h2tRecv(t, started, "the request")
	tr.retire()
	if n := h2tConns(tr); n != 1 {
		t.Fatalf("%d connections after retire with a stream open, want 1", n)
	}
	close(release)
	if err := h2tRecv(t, errc, "the response"); err != nil {
		t.Fatal(err)
	}
	h2tWait(t, "the connection to close after its last stream", func() bool { return h2tConns(tr) == 0 })
}
