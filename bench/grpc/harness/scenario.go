package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Target is one server under test: its process tree and its listeners.
type Target struct {
	Name string
	PID  int    // root of its process tree; 0 when it is the backend itself
	REST string // host:port serving the REST bindings over HTTP/1.1, or ""
	GRPC string // host:port serving gRPC over h2c, or ""
}

// parseTarget reads "name,pid=N,rest=host:port,grpc=host:port".
func parseTarget(s string) (Target, error) {
	parts := strings.Split(s, ",")
	t := Target{Name: parts[0]}
	for _, p := range parts[1:] {
		k, v, ok := strings.Cut(p, "=")
		if !ok {
			return t, fmt.Errorf("target %q: %q is not key=value", s, p)
		}
		switch k {
		case "pid":
			n, err := strconv.Atoi(v)
			if err != nil {
				return t, fmt.Errorf("target %q: pid: %w", s, err)
			}
			t.PID = n
		case "rest":
			t.REST = v
		case "grpc":
			t.GRPC = v
		default:
			return t, fmt.Errorf("target %q: unknown key %q", s, k)
		}
	}
	if t.Name == "" {
		return t, fmt.Errorf("target %q: no name", s)
	}
	return t, nil
}

// Scenario is one kind of load against one kind of listener.
type Scenario struct {
	Name    string
	GRPC    bool   // load over h2c with h2load, else HTTP/1.1 with wrk
	Method  string // HTTP method of the REST call
	Path    string
	Latency string // p99_ms or mean_ms
}

// scenarios is every scenario, in the order they run.
var scenarios = []Scenario{
	{Name: "rest-get", Method: "GET", Path: "/v1/shelves/1/books/1", Latency: "p99_ms"},
	{Name: "rest-post", Method: "POST", Path: "/v1/echo", Latency: "p99_ms"},
	{Name: "grpc-unary", GRPC: true, Method: "POST", Path: "/" + serviceName + "/GetBook", Latency: "mean_ms"},
}

// addr is t's listener for s, "" when it has none.
func (s Scenario) addr(t Target) string {
	if s.GRPC {
		return t.GRPC
	}
	return t.REST
}

// Payloads are the files the load generators send, written once per run.
type Payloads struct {
	PostLua  string // wrk script: POST the Echo JSON
	GRPCBody string // one framed GetBookRequest
}

// writePayloads writes the request files into dir.
func writePayloads(dir string) (Payloads, error) {
	p := Payloads{PostLua: filepath.Join(dir, "post-echo.lua"), GRPCBody: filepath.Join(dir, "getbook.grpc")}
	frame, err := getBookFrame()
	if err != nil {
		return p, err
	}
	lua := fmt.Sprintf("wrk.method = \"POST\"\nwrk.headers[\"Content-Type\"] = \"application/json\"\nwrk.body = %s\n",
		strconv.Quote(echoJSON))
	if err := os.WriteFile(p.PostLua, []byte(lua), 0o644); err != nil {
		return p, fmt.Errorf("write lua: %w", err)
	}
	if err := os.WriteFile(p.GRPCBody, frame, 0o644); err != nil {
		return p, fmt.Errorf("write grpc body: %w", err)
	}
	return p, nil
}

// command is the load generator's argv for d against addr, pinned to core.
// gRPC: h2load, 4 connections x 32 streams, posting the framed request.
// REST: wrk, 1 thread, 50 keep-alive connections.
func (s Scenario) command(addr string, d time.Duration, core int, p Payloads) []string {
	secs := strconv.Itoa(int(d.Round(time.Second) / time.Second))
	argv := []string{"taskset", "-c", strconv.Itoa(core)}
	if s.GRPC {
		return append(argv, "h2load", "-t1", "-c4", "-m32", "-D", secs, "-d", p.GRPCBody,
			"-H", "content-type: application/grpc", "-H", "te: trailers", "http://"+addr+s.Path)
	}
	argv = append(argv, "wrk", "-t1", "-c50", "-d"+secs+"s", "--latency")
	if s.Method == "POST" {
		argv = append(argv, "-s", p.PostLua)
	}
	return append(argv, "http://"+addr+s.Path)
}

// runLoad runs the load generator for d and parses its output; it is killed
// if it runs 30 s longer than asked.
func (s Scenario) runLoad(ctx context.Context, addr string, d time.Duration, core int, p Payloads) (LoadResult, error) {
	ctx, cancel := context.WithTimeout(ctx, d+30*time.Second)
	defer cancel()
	argv := s.command(addr, d, core, p)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return LoadResult{}, fmt.Errorf("%s: %w: %s", strings.Join(argv, " "), err, tail(out))
	}
	var r LoadResult
	if s.GRPC {
		r, err = parseH2load(string(out))
	} else {
		r, err = parseWrk(string(out))
	}
	if err != nil {
		return r, fmt.Errorf("%w: %s", err, tail(out))
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.CPU = rusageSeconds(ru)
	}
	return r, nil
}

// tail is the end of a tool's output, for error messages.
func tail(b []byte) string {
	if len(b) > 400 {
		b = b[len(b)-400:]
	}
	return strings.TrimSpace(string(b))
}
