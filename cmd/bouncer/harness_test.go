package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// bouncerBin is the bouncer binary built once by TestMain.
var bouncerBin string

func TestMain(m *testing.M) { os.Exit(testMain(m)) }

// testMain builds the binary under test (with -race when this test binary
// has it) into a temporary directory, runs the tests, and removes it.
func testMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "bouncer-test-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "bouncer tests:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	bouncerBin = filepath.Join(dir, "bouncer")
	args := []string{"build", "-o", bouncerBin}
	if raceEnabled {
		args = append(args, "-race")
	}
	cmd := exec.Command(goTool(), append(args, ".")...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "bouncer tests: building the binary:", err)
		return 1
	}
	return m.Run()
}

// goTool finds the go command that is running these tests.
func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return filepath.Join(os.Getenv("GOROOT"), "bin", "go")
}

// notifyBuffer collects a process's output and signals every write.
type notifyBuffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{}
}

func newNotifyBuffer() *notifyBuffer { return &notifyBuffer{changed: make(chan struct{}, 1)} }

func (b *notifyBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n, err := b.buf.Write(p)
	select {
	case b.changed <- struct{}{}:
	default:
	}
	return n, err
}

func (b *notifyBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// proc is one bouncer process started by a test.
type proc struct {
	t         *testing.T
	cmd       *exec.Cmd
	stdout    *notifyBuffer
	stderr    *notifyBuffer
	exited    chan struct{} // closed when the process has exited
	waitErr   error         // valid once exited is closed
	listeners map[string]string
	admin     string // base URL of the admin API
}

// startBouncer runs `bouncer run -config path` and waits (bounded) for the
// banner, from which it learns the bound listener and admin addresses. The
// process is killed, by its PID, when the test ends.
func startBouncer(t *testing.T, path string) *proc {
	t.Helper()
	p := &proc{t: t, stdout: newNotifyBuffer(), stderr: newNotifyBuffer(), exited: make(chan struct{})}
	p.cmd = exec.Command(bouncerBin, "run", "-config", path)
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("starting bouncer: %v", err)
	}
	go func() {
		p.waitErr = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
		if t.Failed() {
			t.Logf("bouncer stderr:\n%s", p.stderr.String())
		}
	})
	p.waitBanner()
	return p
}

// startConfig writes text to a config file of its own and starts bouncer
// on it.
func startConfig(t *testing.T, text string) *proc {
	t.Helper()
	path := filepath.Join(t.TempDir(), "bouncer.yaml")
	writeFile(t, path, text)
	return startBouncer(t, path)
}

// waitBanner parses `listener NAME URL` and `admin URL` lines of the
// banner, which ends with "Try:".
func (p *proc) waitBanner() {
	p.t.Helper()
	deadline := time.After(20 * time.Second)
	for !strings.Contains(p.stderr.String(), "\nTry:\n") {
		select {
		case <-p.stderr.changed:
		case <-p.exited:
			p.t.Fatalf("bouncer exited before serving (%v):\n%s", p.waitErr, p.stderr.String())
		case <-deadline:
			p.t.Fatalf("no banner from bouncer within 20s:\n%s", p.stderr.String())
		}
	}
	p.listeners = map[string]string{}
	banner, _, _ := strings.Cut(p.stderr.String(), "\nTry:\n")
	for _, line := range strings.Split(banner, "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) >= 3 && f[0] == "listener" && strings.Contains(f[2], "://"):
			p.listeners[f[1]] = f[2]
		case len(f) >= 2 && f[0] == "admin" && strings.HasPrefix(f[1], "http://"):
			p.admin = f[1]
		}
	}
	if len(p.listeners) == 0 || p.admin == "" {
		p.t.Fatalf("banner lacks listener or admin lines:\n%s", banner)
	}
}

// url is the base URL of a listener.
func (p *proc) url(listener string) string {
	p.t.Helper()
	u, ok := p.listeners[listener]
	if !ok {
		p.t.Fatalf("no listener %q in the banner (%v)", listener, p.listeners)
	}
	return u
}

func (p *proc) signal(sig syscall.Signal) {
	p.t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Fatalf("signal %v: %v", sig, err)
	}
}

// waitExit waits up to d for the process to exit and returns its code.
func (p *proc) waitExit(d time.Duration) int {
	p.t.Helper()
	select {
	case <-p.exited:
	case <-time.After(d):
		p.t.Fatalf("bouncer still running %v after it was told to stop", d)
	}
	var ee *exec.ExitError
	if p.waitErr != nil && !errors.As(p.waitErr, &ee) {
		p.t.Fatalf("waiting for bouncer: %v", p.waitErr)
	}
	return p.cmd.ProcessState.ExitCode()
}

// adminGet fetches path from the admin API.
func (p *proc) adminGet(path string) (int, string) {
	p.t.Helper()
	return httpDo(p.t, http.MethodGet, p.admin+path)
}

// status is the admin /status document.
func (p *proc) status() reloadStatus {
	p.t.Helper()
	code, body := p.adminGet("/status")
	var st reloadStatus
	if code != http.StatusOK || json.Unmarshal([]byte(body), &st) != nil {
		p.t.Fatalf("GET /status: %d %s", code, body)
	}
	return st
}

// waitStatus polls /status until ok accepts it (bounded) and returns it.
func (p *proc) waitStatus(what string, ok func(reloadStatus) bool) reloadStatus {
	p.t.Helper()
	var st reloadStatus
	eventually(p.t, 10*time.Second, what, func() bool {
		st = p.status()
		return ok(st)
	})
	return st
}

var plainClient = &http.Client{Timeout: 10 * time.Second}

// httpDo sends one request without a body and returns status and body.
func httpDo(t *testing.T, method, url string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := plainClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, url, err)
	}
	return resp.StatusCode, string(b)
}

// eventually polls cond until it holds, failing the test after d.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	if !poll(d, cond) {
		t.Fatalf("timed out after %v waiting for %s", d, what)
	}
}

// poll calls cond every few milliseconds until it holds or d has passed,
// and reports whether it held. Polling with a deadline is how these tests
// wait for an effect in another process; nothing relies on a sleep being
// long enough.
func poll(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		<-tick.C
	}
	return true
}

// writeFile writes a test file, failing the test on error.
func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// unwatchedConfig returns a config path whose content the file watcher
// does not see change: it is a symlink to a file in another directory, and
// bouncer watches the symlink's directory. Reloads then happen only on
// SIGHUP or POST /reload, so generations can be counted exactly. Write the
// returned target to change the config.
func unwatchedConfig(t *testing.T, text string) (path, target string) {
	t.Helper()
	target = filepath.Join(t.TempDir(), "real.yaml")
	writeFile(t, target, text)
	path = filepath.Join(t.TempDir(), "bouncer.yaml")
	if err := os.Symlink(target, path); err != nil {
		t.Fatal(err)
	}
	return path, target
}

// hostPort is the address of an httptest server or a base URL.
func hostPort(url string) string {
	_, hp, _ := strings.Cut(url, "://")
	return hp
}

// freePort returns a loopback address that was free a moment ago. It is
// racy in principle (something may take the port before bouncer binds
// it) and used only where bouncer cannot report the port it bound: a
// listener added by a reload, and the sample backends, whose addresses
// an upstream must name in the same config. The address is on 127.0.0.3,
// which nothing else in the tests uses: on 127.0.0.1 the parallel tests'
// outgoing connections take ephemeral ports all the time, and one of them
// took such a port between the check and the bind (seen in a -count=3 run).
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.3:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// h2cClient speaks HTTP/2 with prior knowledge over plain TCP.
func h2cClient() *http.Client {
	var protos http.Protocols
	protos.SetUnencryptedHTTP2(true)
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{Protocols: &protos}}
}

// h1Client speaks HTTP/1.1 with keep-alive.
func h1Client() *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
}
