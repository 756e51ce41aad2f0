// Package testsvc starts the real services Bouncer's tests talk to (Redis,
// the Pebble ACME server) as child processes on loopback, and stops them
// when the test ends.
//
// A missing program skips the test on a developer's machine and fails it
// under CI (the CI environment variable set), where scripts/test.sh has
// installed everything.
package testsvc

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// Binary returns the path of program name, found on PATH or in the
// repository's .bin folder.
func Binary(t testing.TB, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if root, err := repoRoot(); err == nil {
		p := filepath.Join(root, ".bin", name)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	msg := fmt.Sprintf("%s is not installed (scripts/test.sh installs it)", name)
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// repoRoot is the nearest parent folder holding go.mod.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the working folder")
		}
		dir = parent
	}
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago,
// for programs that cannot be told to pick their own.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// Proc is a child process started by Start.
type Proc struct {
	cmd  *exec.Cmd
	out  *syncBuffer
	once sync.Once
	done chan struct{}
}

// Start runs program with args (and env added to the test's environment)
// and registers its end with t.Cleanup. Its output is kept and printed
// when the test fails.
func Start(t testing.TB, program string, args, env []string) *Proc {
	t.Helper()
	p := &Proc{out: &syncBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(program, args...)
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout = p.out
	p.cmd.Stderr = p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", program, err)
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.Stop()
		if t.Failed() {
			t.Logf("output of %s:\n%s", filepath.Base(program), p.Output())
		}
	})
	return p
}

// Stop kills the process and waits for it; calling it again does nothing.
func (p *Proc) Stop() {
	p.once.Do(func() {
		_ = p.cmd.Process.Kill()
		<-p.done
	})
}

// Exited is closed when the process has ended.
func (p *Proc) Exited() <-chan struct{} { return p.done }

// Output is what the process has written so far.
func (p *Proc) Output() string { return p.out.String() }

// WaitFor polls ready every 20 ms until it returns nil, the process exits,
// or timeout passes; the last two fail the test.
func (p *Proc) WaitFor(t testing.TB, timeout time.Duration, ready func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		err := ready()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready after %v: %v\n%s", p.cmd.Path, timeout, err, p.Output())
		}
		select {
		case <-p.done:
			t.Fatalf("%s exited before it was ready:\n%s", p.cmd.Path, p.Output())
		case <-tick.C:
		}
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
