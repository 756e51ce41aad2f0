package main

import (
	"fmt"
	"net/http"
	"net/http/httptrace"
	"syscall"
	"testing"
)

// listenersConfig serves listener web and, when extra is not "", a
// second listener on that address.
func listenersConfig(backend, extra string) string {
	more := ""
	if extra != "" {
		more = fmt.Sprintf("\n  - {name: extra, address: %q}", extra)
	}
	return fmt.Sprintf(`
admin: {address: "127.0.0.1:0"}
listeners:
  - {name: web, address: "127.0.0.1:0"}%s
routes:
  - proxy: {upstream: app}
upstreams:
  app: {endpoints: [%s]}
`, more, backend)
}

// TestListenerAddedAndRemoved adds a listener by reload, serves on it,
// removes it by reload, and meanwhile a request in flight on the other
// listener completes on a connection that stays open.
func TestListenerAddedAndRemoved(t *testing.T) {
	t.Parallel()
	b := newHeldBackend(t)
	path, target := unwatchedConfig(t, listenersConfig(hostPort(b.URL), ""))
	p := startBouncer(t, path)
	web := p.url("web")
	client := h1Client()
	slow := getAsync(client, web+"/in-flight")
	b.waitEntered(t, 1)

	// Added: bouncer cannot report the port of a listener added by a
	// reload, so the test picks one that is free.
	extra := freePort(t)
	writeFile(t, target, listenersConfig(hostPort(b.URL), extra))
	p.signal(syscall.SIGHUP)
	p.waitStatus("the listener to be added", func(s reloadStatus) bool { return s.Generation == 2 })
	extraDone := getAsync(h1Client(), "http://"+extra+"/via-extra")
	b.waitEntered(t, 1)
	b.Release() // from here on the backend answers at once
	if r := await(t, extraDone); r.err != nil || r.code != http.StatusOK || r.body != "done /via-extra" {
		t.Errorf("request on the added listener: %d %q %v", r.code, r.body, r.err)
	}

	writeFile(t, target, listenersConfig(hostPort(b.URL), ""))
	p.signal(syscall.SIGHUP)
	p.waitStatus("the listener to be removed", func(s reloadStatus) bool { return s.Generation == 3 })
	waitRefused(t, extra)

	if r := await(t, slow); r.err != nil || r.code != http.StatusOK || r.body != "done /in-flight" {
		t.Fatalf("request in flight on web across both reloads: %d %q %v", r.code, r.body, r.err)
	}
	// The in-flight request's connection was kept open: the next request
	// reuses it.
	var reused bool
	trace := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) { reused = i.Reused }}
	req, _ := http.NewRequest(http.MethodGet, web+"/again", nil)
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), trace))
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("second request on web: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !reused {
		t.Errorf("second request on web: status %d, connection reused %v; want 200 on the same connection", resp.StatusCode, reused)
	}
	if s := p.status(); s.Failures != 0 {
		t.Errorf("status = %+v, want no failed reloads", s)
	}
}
