package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/bouncer-proxy/bouncer/l7/policy/credauth"
)

// cliResult is what one run of the binary printed and returned.
type cliResult struct {
	code           int
	stdout, stderr string
}

// runCLI runs the bouncer binary to completion in dir ("" for the
// package directory).
func runCLI(t *testing.T, dir string, args ...string) cliResult {
	t.Helper()
	return runBouncer(t, dir, nil, args...)
}

// runCLIInput runs bouncer with input on its standard input.
func runCLIInput(t *testing.T, input string, args ...string) cliResult {
	t.Helper()
	return runBouncer(t, "", strings.NewReader(input), args...)
}

// runBouncer runs the binary in dir (the test's working directory when
// "") with stdin (none when nil) and returns what it did.
func runBouncer(t *testing.T, dir string, stdin io.Reader, args ...string) cliResult {
	t.Helper()
	cmd := exec.Command(bouncerBin, args...)
	cmd.Dir, cmd.Stdin = dir, stdin
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("bouncer %v: %v", args, err)
	}
	return cliResult{code: cmd.ProcessState.ExitCode(), stdout: out.String(), stderr: errOut.String()}
}

// cliCase is one command line, its exit code and what it must print.
type cliCase struct {
	name       string
	args       []string
	code       int
	stdout     []string // substrings
	stderr     []string
	noStdout   bool
	stdoutOnly bool // help goes to stdout, not stderr
}

func cliCases() []cliCase {
	return []cliCase{
		{name: "version", args: []string{"version"}, code: 0, stdout: []string{"bouncer " + version + "\n"}},
		{name: "top help -h", args: []string{"-h"}, code: 0, stdoutOnly: true,
			stdout: []string{"bouncer validate FILE", "bouncer routes FILE", "bouncer version", "Exit codes: 0 success, 1 invalid config"}},
		{name: "top help --help", args: []string{"--help"}, code: 0, stdoutOnly: true, stdout: []string{"bouncer [run] [-config FILE]"}},
		{name: "help command", args: []string{"help"}, code: 0, stdoutOnly: true, stdout: []string{"bouncer routes FILE"}},
		{name: "validate -h", args: []string{"validate", "-h"}, code: 0, noStdout: true,
			stderr: []string{"Usage: bouncer validate FILE", "file:line: key.path: message", "exits 1"}},
		{name: "routes -h", args: []string{"routes", "-h"}, code: 0, noStdout: true,
			stderr: []string{"Usage: bouncer routes FILE", "precedence order"}},
		{name: "run -h", args: []string{"run", "-h"}, code: 0, noStdout: true,
			stderr: []string{"Usage: bouncer run [-config FILE]", "SIGHUP", "-config"}},
		{name: "unknown command", args: []string{"frobnicate"}, code: 2, noStdout: true,
			stderr: []string{`unknown command "frobnicate"`, "Usage:"}},
		{name: "unknown flag", args: []string{"run", "-frobnicate"}, code: 2, noStdout: true,
			stderr: []string{"-frobnicate"}},
		{name: "run with extra argument", args: []string{"run", "extra"}, code: 2, noStdout: true,
			stderr: []string{`unexpected argument "extra"`}},
		{name: "validate without file", args: []string{"validate"}, code: 2, noStdout: true,
			stderr: []string{"Usage: bouncer validate FILE"}},
		{name: "routes with two files", args: []string{"routes", "a.yaml", "b.yaml"}, code: 2, noStdout: true,
			stderr: []string{"Usage: bouncer routes FILE"}},
		{name: "validate missing file", args: []string{"validate", "/nonexistent/bouncer.yaml"}, code: 1, noStdout: true,
			stderr: []string{"/nonexistent/bouncer.yaml", "no such file"}},
		{name: "validate endless file", args: []string{"validate", "/dev/zero"}, code: 1, noStdout: true,
			stderr: []string{"/dev/zero is larger than 64 MiB"}},
		{name: "run with missing file", args: []string{"run", "-config", "/nonexistent/bouncer.yaml"}, code: 1, noStdout: true,
			stderr: []string{"invalid config", "/nonexistent/bouncer.yaml"}},
	}
}

func TestCLIUsageAndExitCodes(t *testing.T) {
	t.Parallel()
	for _, tc := range cliCases() {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := runCLI(t, "", tc.args...)
			if r.code != tc.code {
				t.Errorf("exit code %d, want %d\nstdout: %s\nstderr: %s", r.code, tc.code, r.stdout, r.stderr)
			}
			for _, s := range tc.stdout {
				if !strings.Contains(r.stdout, s) {
					t.Errorf("stdout lacks %q:\n%s", s, r.stdout)
				}
			}
			for _, s := range tc.stderr {
				if !strings.Contains(r.stderr, s) {
					t.Errorf("stderr lacks %q:\n%s", s, r.stderr)
				}
			}
			if tc.noStdout && r.stdout != "" {
				t.Errorf("unexpected stdout: %s", r.stdout)
			}
			if tc.stdoutOnly && r.stderr != "" {
				t.Errorf("unexpected stderr: %s", r.stderr)
			}
		})
	}
}

func TestValidateGoodFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "good.yaml")
	writeFile(t, path, `
listeners:
  - {name: web, address: "127.0.0.1:0"}
routes:
  - match: {prefix: /}
    proxy: {upstream: app}
upstreams:
  app: {endpoints: [127.0.0.1:9]}
`)
	r := runCLI(t, "", "validate", path)
	want := path + ": ok (1 listeners, 1 routes, 1 upstreams)\n"
	if r.code != 0 || r.stdout != want || r.stderr != "" {
		t.Fatalf("validate: code %d, stdout %q (want %q), stderr %q", r.code, r.stdout, want, r.stderr)
	}
}

// TestValidateBadFile checks that every problem is listed, each as
// file:line: key.path: message, on stderr, with exit code 1.
func TestValidateBadFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "bad.yaml")
	writeFile(t, path, `listeners:
  - name: web
    address: "127.0.0.1:0"
    protocols: [http1, spdy]
routes:
  - match: {prefix: /}
    proxy: {upstream: missing}
  - match: {path: /x}
    redirect: {status: 299, path: /y}
  - match: {path: /x}
    respond: {status: 200}
upstreams:
  app:
    endpoints: [127.0.0.1:9]
    balance: fastest
`)
	r := runCLI(t, "", "validate", path)
	if r.code != 1 || r.stdout != "" {
		t.Fatalf("validate: code %d (want 1), stdout %q", r.code, r.stdout)
	}
	want := []string{
		path + ":4: listeners[0].protocols[1]: ",
		path + ":7: routes[0].proxy.upstream: ",
		path + ":9: routes[1].redirect.status: ",
		path + ":10: routes[2].match: route can never match",
		path + ":15: upstreams.app.balance: ",
	}
	lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
	if len(lines) != len(want) {
		t.Errorf("got %d problems, want %d:\n%s", len(lines), len(want), r.stderr)
	}
	shape := regexp.MustCompile(`^` + regexp.QuoteMeta(path) + `:\d+: [a-z_]+[a-z_.\[\]0-9]*: \S.*$`)
	for _, l := range lines {
		if !shape.MatchString(l) {
			t.Errorf("problem not in file:line: key.path: message form: %q", l)
		}
	}
	for _, w := range want {
		if !strings.Contains(r.stderr, "\n"+w) && !strings.HasPrefix(r.stderr, w) {
			t.Errorf("no line starting %q in:\n%s", w, r.stderr)
		}
	}
}

// TestRoutesPrecedence checks that `bouncer routes` lists the table in
// precedence order, not file order: an exact path before a prefix.
func TestRoutesPrecedence(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "routes.yaml")
	writeFile(t, path, `
listeners:
  - {name: web, address: "127.0.0.1:0", policies: [edge]}
routes:
  - name: catch-all
    respond: {body: any}
  - name: api-prefix
    match: {prefix: /api/}
    policies: [limit, keys]
    respond: {body: prefix}
  - name: api-exact
    match: {path: /api/health}
    respond: {body: exact}
policies:
  edge: {ip_filter: {deny: [203.0.113.0/24]}}
  keys: {api_key: {keys: [{consumer: c, hash: "sha256:`+strings.Repeat("ab", 32)+`"}]}}
  limit: {rate_limit: {key: consumer, limits: [{requests: 5, per: 1s}]}}
`)
	r := runCLI(t, "", "routes", path)
	if r.code != 0 {
		t.Fatalf("routes: code %d\n%s", r.code, r.stderr)
	}
	order := []string{"api-exact", "api-prefix", "catch-all"}
	for i, name := range order {
		row := regexp.MustCompile(fmt.Sprintf(`(?m)^\s+%d\s+%s\s`, i+1, name))
		if !row.MatchString(r.stdout) {
			t.Errorf("row %d is not %s:\n%s", i+1, name, r.stdout)
		}
	}
	if !strings.Contains(r.stdout, "listener web (127.0.0.1:0)") || !strings.Contains(r.stdout, "path /api/health") {
		t.Errorf("table lacks the listener heading or the path column:\n%s", r.stdout)
	}
	// Policies in the order they run: the listener's first, phases deciding.
	if !strings.Contains(r.stdout, "edge (ip_filter), keys (api_key), limit (rate_limit)") {
		t.Errorf("api-prefix's policies are not listed in phase order:\n%s", r.stdout)
	}
}

// TestShippedConfigsValidate runs validate on configs/default.yaml and every
// example, from the repository root: example TLS paths are relative to it.
func TestShippedConfigsValidate(t *testing.T) {
	t.Parallel()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join(root, "configs", "examples", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no example configs found (%v)", err)
	}
	files = append(files, filepath.Join(root, "configs", "default.yaml"))
	for _, f := range files {
		rel, _ := filepath.Rel(root, f)
		t.Run(rel, func(t *testing.T) {
			t.Parallel()
			r := runCLI(t, root, "validate", rel)
			if r.code != 0 || !strings.HasPrefix(r.stdout, rel+": ok") {
				t.Errorf("validate %s: code %d\nstdout: %s\nstderr: %s", rel, r.code, r.stdout, r.stderr)
			}
		})
	}
}

// TestRouteShadowedOnSomeListeners: a catch-all that a listener-specific
// route shadows on one listener still serves on the others, so the config
// is valid; shadowed on every listener it is on, it is an error.
func TestRouteShadowedOnSomeListeners(t *testing.T) {
	t.Parallel()
	const tmpl = `
listeners:
  - {name: plain, address: "127.0.0.1:0"}
  - {name: other, address: "127.0.0.1:0"}
routes:
  - name: to-https
    listeners: [plain]
    redirect: {scheme: https}
  - name: fallback%s
    respond: {body: hi}
`
	dir := t.TempDir()
	ok := filepath.Join(dir, "ok.yaml")
	writeFile(t, ok, fmt.Sprintf(tmpl, ""))
	r := runCLI(t, "", "routes", ok)
	plain, other, _ := strings.Cut(r.stdout, "listener other")
	if r.code != 0 || strings.Contains(plain, "fallback") || !strings.Contains(other, "fallback") {
		t.Errorf("routes: code %d; want fallback only under listener other:\n%s%s", r.code, r.stdout, r.stderr)
	}
	bad := filepath.Join(dir, "bad.yaml")
	writeFile(t, bad, fmt.Sprintf(tmpl, "\n    listeners: [plain]"))
	r = runCLI(t, "", "validate", bad)
	want := bad + ":9: routes[1].match: route can never match"
	if r.code != 1 || !strings.HasPrefix(r.stderr, want) || strings.Count(r.stderr, "\n") != 1 {
		t.Errorf("validate: code %d, stderr %q; want one problem starting %q", r.code, r.stderr, want)
	}
}

// TestHashCommands: hash-key and hash-password print what api_key and
// basic_auth accept, from standard input, and refuse what they cannot hash.
func TestHashCommands(t *testing.T) {
	t.Parallel()
	r := runCLIInput(t, "example-key\n", "hash-key")
	if r.code != 0 || r.stdout != "sha256:c018c41c1afaf2c0b66c64f97d0ee135657b699ad260f299234cd40a5d625e0e\n" {
		t.Fatalf("hash-key: %d %q %q", r.code, r.stdout, r.stderr)
	}
	long := strings.Repeat("k", 4096) // the longest secret read
	if r := runCLIInput(t, long+"\n", "hash-key"); r.code != 0 || strings.TrimSpace(r.stdout) != credauth.HashAPIKey(long) {
		t.Fatalf("hash-key of a 4096-byte key: %d %q %q", r.code, r.stdout, r.stderr)
	}
	r = runCLIInput(t, "pw", "hash-password", "-cost", "4")
	hash := strings.TrimSpace(r.stdout)
	if r.code != 0 || bcrypt.CompareHashAndPassword([]byte(hash), []byte("pw")) != nil {
		t.Fatalf("hash-password: %d %q %q", r.code, r.stdout, r.stderr)
	}
	for _, c := range []struct {
		input string
		args  []string
		want  string
	}{
		{"\n", []string{"hash-key"}, "no secret"},
		{"k\n", []string{"hash-key", "k"}, "read from standard input"},
		{strings.Repeat("k", 4097), []string{"hash-key"}, "longer than 4096 bytes"},
		{strings.Repeat("k", 5000) + "\n", []string{"hash-key"}, "longer than 4096 bytes"},
		{strings.Repeat("p", 73), []string{"hash-password"}, "72"},
		{"pw", []string{"hash-password", "-cost", "99"}, "cost"},
	} {
		if r := runCLIInput(t, c.input, c.args...); r.code != 2 || !strings.Contains(r.stderr, c.want) || r.stdout != "" {
			t.Errorf("%v: %d %q %q, want exit 2 and %q", c.args, r.code, r.stdout, r.stderr, c.want)
		}
	}
}
