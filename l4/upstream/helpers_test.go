package upstream

import (
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bouncer-proxy/bouncer/configs"
)

// newRegistry returns a registry closed at the end of the test.
func newRegistry(t *testing.T, opts Options) *Registry {
	t.Helper()
	r := NewRegistry(opts)
	t.Cleanup(r.Close)
	return r
}

// build builds a cluster or fails the test.
func build(t *testing.T, r *Registry, name string, cfg configs.Upstream) *Cluster {
	t.Helper()
	c, err := r.Build(name, cfg)
	if err != nil {
		t.Fatalf("build %s: %v", name, err)
	}
	return c
}

// upstreamOf is a config with the given balance and equally weighted
// endpoints.
func upstreamOf(balance string, addrs ...string) configs.Upstream {
	u := configs.Upstream{Balance: balance}
	for _, a := range addrs {
		u.Endpoints = append(u.Endpoints, configs.Endpoint{Address: a, Weight: 1})
	}
	return u
}

// fakeAddrs returns n loopback addresses for picker tests that never dial.
func fakeAddrs(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("127.0.0.%d:80", i+1)
	}
	return out
}

// eventually polls cond every few milliseconds until it holds or the
// deadline passes.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for: %s", within, what)
		}
		time.Sleep(2 * time.Millisecond) // polling interval, not synchronisation
	}
}

// backend is a loopback HTTP server whose status can be switched.
type backend struct {
	*httptest.Server
	status atomic.Int32
	hits   atomic.Int64
	host   atomic.Value // last Host header and path seen

	mu    sync.Mutex
	paths map[string]int // requests per path
}

// count returns how many requests asked for path.
func (b *backend) count(path string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.paths[path]
}

func newBackend(t *testing.T, tlsOn bool) *backend {
	t.Helper()
	b := &backend{paths: map[string]int{}}
	b.status.Store(http.StatusOK)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.hits.Add(1)
		b.host.Store(r.Host + " " + r.URL.Path)
		b.mu.Lock()
		b.paths[r.URL.Path]++
		b.mu.Unlock()
		w.WriteHeader(int(b.status.Load()))
	})
	b.Server = httptest.NewUnstartedServer(h)
	// Checks cancelled at shutdown make handshake noise; keep test output clean.
	b.Config.ErrorLog = log.New(io.Discard, "", 0)
	if tlsOn {
		b.StartTLS()
	} else {
		b.Start()
	}
	t.Cleanup(b.Close)
	return b
}

func (b *backend) addr() string { return b.Listener.Addr().String() }

// deadAddr returns a loopback address nothing listens on (a port that was
// just free).
func deadAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return a
}

// pickN picks n times without hash or exclusion and counts by address.
func pickN(t *testing.T, c *Cluster, n int) map[string]int {
	t.Helper()
	got := map[string]int{}
	for range n {
		e, err := c.Pick(0, false, nil)
		if err != nil {
			t.Fatal(err)
		}
		got[e.Address()]++
	}
	return got
}

// ejectNow ejects e through its real path: connect failures past a
// threshold of 1 (the cluster must be configured so).
func ejectNow(e *Endpoint) {
	e.Start()
	e.Done(Result{ConnectFailure: true})
}

// outlierFast ejects on the first connect failure, for a long time, with no
// percent cap.
func outlierFast() *configs.OutlierDetection {
	return &configs.OutlierDetection{
		ConsecutiveConnectFailures: 1, BaseEjectionTime: configs.Duration(time.Minute),
		MaxEjectionTime: configs.Duration(time.Hour), MaxEjectionPercent: 100,
	}
}
