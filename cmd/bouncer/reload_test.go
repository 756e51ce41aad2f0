package main

import (
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// loadConfig is config number n of the reload test. Even and odd configs
// differ in route name, upstream name and backend, and all in the value of
// the X-Config response header.
func loadConfig(n int, backends [2]string) string {
	up := [2]string{"even", "odd"}[n%2]
	return fmt.Sprintf(`
admin: {address: "127.0.0.1:0"}
log: {access_log: false}
listeners:
  - {name: web, address: "127.0.0.1:0", protocols: [http1, h2c]}
routes:
  - name: route-%[1]s
    match: {prefix: /}
    proxy: {upstream: %[1]s}
    response_headers: {set: {X-Config: "%[2]d"}}
upstreams:
  %[1]s: {endpoints: [%[3]s]}
`, up, n, backends[n%2])
}

// loadStats is what the client pool saw.
type loadStats struct {
	requests atomic.Int64
	failures atomic.Int64
	mu       sync.Mutex
	first    []string // the first few failures
}

func (s *loadStats) fail(format string, args ...any) {
	s.failures.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.first) < 5 {
		s.first = append(s.first, fmt.Sprintf(format, args...))
	}
}

// loadWorker sends requests one after another until stop is closed. Its
// requests are sequential, so the X-Config values it sees never go back.
func loadWorker(c *http.Client, protoMajor int, url string, stop <-chan struct{}, st *loadStats) {
	last := -1
	for {
		select {
		case <-stop:
			return
		default:
		}
		resp, err := c.Get(url)
		if err != nil {
			st.fail("GET: %v", err)
			continue
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		n, cerr := strconv.Atoi(resp.Header.Get("X-Config"))
		switch {
		case err != nil:
			st.fail("reading body: %v", err)
		case resp.StatusCode != http.StatusOK || resp.ProtoMajor != protoMajor:
			st.fail("status %d (%s)", resp.StatusCode, resp.Proto)
		case cerr != nil || n < last:
			st.fail("X-Config %q after %d", resp.Header.Get("X-Config"), last)
		default:
			last = n
		}
		st.requests.Add(1)
	}
}

// TestHotReloadUnderLoad reloads 30 times with SIGHUP, switching route,
// upstream and a response header each time, while 8 clients (5 HTTP/1.1
// keep-alive, 3 h2c) send requests without pause: none may fail.
func TestHotReloadUnderLoad(t *testing.T) {
	t.Parallel()
	const reloads = 30
	backends := [2]string{hostPort(echoBackend(t, "even").URL), hostPort(echoBackend(t, "odd").URL)}
	path, target := unwatchedConfig(t, loadConfig(0, backends))
	p := startBouncer(t, path)
	url := p.url("web") + "/load"

	var st loadStats
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := range 8 {
		c, major := h1Client(), 1
		if i >= 5 {
			c, major = h2cClient(), 2
		}
		wg.Go(func() { loadWorker(c, major, url, stop, &st) })
	}
	stopped := false
	halt := func() {
		if !stopped {
			stopped = true
			close(stop)
			wg.Wait()
		}
	}
	t.Cleanup(halt)

	probe := h1Client()
	for n := 1; n <= reloads; n++ {
		before := st.requests.Load()
		writeFile(t, target, loadConfig(n, backends))
		p.signal(syscall.SIGHUP)
		p.waitStatus(fmt.Sprintf("generation %d", n+1), func(s reloadStatus) bool { return s.Generation == uint64(n+1) })
		resp, err := probe.Get(url)
		if err != nil {
			t.Fatalf("probe after reload %d: %v", n, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		want := [2]string{"even /load", "odd /load"}[n%2]
		if got := resp.Header.Get("X-Config"); got != strconv.Itoa(n) || string(body) != want {
			t.Fatalf("after reload %d: X-Config %q, body %q; want %d, %q", n, got, body, n, want)
		}
		// Let the pool send requests under this generation before the next.
		eventually(t, 10*time.Second, "client traffic between reloads", func() bool { return st.requests.Load() >= before+16 })
	}
	halt()

	if f := st.failures.Load(); f != 0 {
		t.Errorf("%d of %d requests failed; first: %s", f, st.requests.Load(), strings.Join(st.first, "; "))
	}
	s := p.status()
	if s.Reloads != reloads || s.Failures != 0 || s.Generation != reloads+1 {
		t.Errorf("status = %+v, want %d reloads, no failures", s, reloads)
	}
	t.Logf("%d requests across %d reloads", st.requests.Load(), reloads)
}

// TestReloadOnFileChange: writing the config file, with no signal, is
// enough for the new config to serve.
func TestReloadOnFileChange(t *testing.T) {
	t.Parallel()
	const tmpl = `
admin: {address: "127.0.0.1:0"}
listeners:
  - {name: web, address: "127.0.0.1:0"}
routes:
  - respond: {body: "%s"}
`
	path := filepath.Join(t.TempDir(), "bouncer.yaml")
	writeFile(t, path, fmt.Sprintf(tmpl, "before"))
	p := startBouncer(t, path)
	if code, body := httpDo(t, http.MethodGet, p.url("web")+"/"); code != http.StatusOK || body != "before" {
		t.Fatalf("before the change: %d %q", code, body)
	}
	writeFile(t, path, fmt.Sprintf(tmpl, "after"))
	eventually(t, 10*time.Second, "the changed file to serve", func() bool {
		_, body := httpDo(t, http.MethodGet, p.url("web")+"/")
		return body == "after"
	})
	if s := p.status(); s.Generation < 2 || s.Reloads < 1 || s.Failures != 0 {
		t.Errorf("status = %+v, want a successful reload", s)
	}
}

// TestInvalidReloadKeepsServing: a broken config is refused by SIGHUP and
// by POST /reload; the old one keeps serving, the error is shown with
// file:line and counted; a fixed file then loads.
func TestInvalidReloadKeepsServing(t *testing.T) {
	t.Parallel()
	const good = `
admin: {address: "127.0.0.1:0"}
listeners:
  - {name: web, address: "127.0.0.1:0"}
routes:
  - respond: {body: "%s"}
`
	const broken = `
admin: {address: "127.0.0.1:0"}
listeners:
  - {name: web, address: "127.0.0.1:0"}
routes:
  - proxy: {upstream: nope}
`
	path, target := unwatchedConfig(t, fmt.Sprintf(good, "v1"))
	p := startBouncer(t, path)
	web := p.url("web") + "/"

	writeFile(t, target, broken)
	p.signal(syscall.SIGHUP)
	s := p.waitStatus("a failed reload", func(s reloadStatus) bool { return s.Failures == 1 })
	wantErr := path + ":6: routes[0].proxy.upstream: "
	if s.Generation != 1 || s.Reloads != 0 || !strings.HasPrefix(s.LastError, wantErr) || s.LastFailAt.IsZero() {
		t.Errorf("status after broken SIGHUP = %+v; want generation 1 and last_error starting %q", s, wantErr)
	}
	if code, body := httpDo(t, http.MethodGet, web); code != http.StatusOK || body != "v1" {
		t.Errorf("old config should keep serving: %d %q", code, body)
	}

	code, body := httpDo(t, http.MethodPost, p.admin+"/reload")
	if code != http.StatusUnprocessableEntity || !strings.Contains(body, `"reloaded": false`) || !strings.Contains(body, ":6: routes[0].proxy.upstream") {
		t.Errorf("POST /reload of a broken file: %d %s", code, body)
	}
	_, metrics := p.adminGet("/metrics")
	for _, want := range []string{`bouncer_config_reloads_total{result="failure"} 2`, "bouncer_config_generation 1"} {
		if !strings.Contains(metrics, want+"\n") {
			t.Errorf("/metrics lacks %q", want)
		}
	}

	writeFile(t, target, fmt.Sprintf(good, "v2"))
	code, body = httpDo(t, http.MethodPost, p.admin+"/reload")
	if code != http.StatusOK || !strings.Contains(body, `"reloaded": true`) {
		t.Fatalf("POST /reload of the fixed file: %d %s", code, body)
	}
	if s := p.status(); s.Generation != 2 || s.Reloads != 1 || s.Failures != 2 || s.LastError != "" {
		t.Errorf("status after the fix = %+v", s)
	}
	if code, body := httpDo(t, http.MethodGet, web); code != http.StatusOK || body != "v2" {
		t.Errorf("fixed config should serve: %d %q", code, body)
	}
	_, metrics = p.adminGet("/metrics")
	if !strings.Contains(metrics, `bouncer_config_reloads_total{result="success"} 1`+"\n") {
		t.Errorf("/metrics lacks one successful reload")
	}
}
