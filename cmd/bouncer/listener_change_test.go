package main

import (
	"fmt"
	"net/http"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestListenerChangeUnderLoad changes a listener's settings (so its server
// is replaced) 30 times while clients open a new connection per request:
// the socket is kept and handed to the new server, so none may fail.
func TestListenerChangeUnderLoad(t *testing.T) {
	be := hostPort(echoBackend(t, "x").URL)
	addr := freePort(t)
	cfg := func(n int) string {
		return fmt.Sprintf(`
admin: {address: "127.0.0.1:0"}
log: {access_log: false}
listeners:
  - {name: web, address: %q, limits: {idle_timeout: %ds}}
routes:
  - proxy: {upstream: app}
    response_headers: {set: {X-Config: "%d"}}
upstreams:
  app: {endpoints: [%s]}
`, addr, 60+n, n, be)
	}
	path, target := unwatchedConfig(t, cfg(0))
	p := startBouncer(t, path)
	url := p.url("web") + "/x"
	var st loadStats
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 8 {
		c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
		wg.Go(func() { loadWorker(c, 1, url, stop, &st) })
	}
	for n := 1; n <= 30; n++ {
		before := st.requests.Load()
		writeFile(t, target, cfg(n))
		p.signal(syscall.SIGHUP)
		p.waitStatus("gen", func(s reloadStatus) bool { return s.Generation == uint64(n+1) })
		eventually(t, 10*time.Second, "traffic", func() bool { return st.requests.Load() >= before+16 })
	}
	close(stop)
	wg.Wait()
	if n := st.failures.Load(); n > 0 {
		t.Fatalf("%d of %d requests failed while the listener was replaced; first failures: %v", n, st.requests.Load(), st.first)
	}
	t.Logf("%d requests, none failed", st.requests.Load())
}
