package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/bouncer-proxy/bouncer/bench/internal/harness"
)

// Payloads are the files the load generators send, written once per run.
type Payloads struct {
	PostLua  string // wrk script: POST the Echo JSON
	GRPCBody string // one framed GetBookRequest
}

// payloadsIn names the request files in dir.
func payloadsIn(dir string) Payloads {
	return Payloads{PostLua: filepath.Join(dir, "post-echo.lua"), GRPCBody: filepath.Join(dir, "getbook.grpc")}
}

// write writes the request files.
func (p Payloads) write() error {
	frame, err := getBookFrame()
	if err != nil {
		return err
	}
	lua := fmt.Sprintf("wrk.method = \"POST\"\nwrk.headers[\"Content-Type\"] = \"application/json\"\nwrk.body = %s\n",
		strconv.Quote(echoJSON))
	if err := os.WriteFile(p.PostLua, []byte(lua), 0o644); err != nil {
		return fmt.Errorf("write lua: %w", err)
	}
	if err := os.WriteFile(p.GRPCBody, frame, 0o644); err != nil {
		return fmt.Errorf("write grpc body: %w", err)
	}
	return nil
}

// scenarios is every scenario, in the order they run, sending p's files.
// REST: wrk over HTTP/1.1 against the targets' "rest" listener, 1 thread,
// 50 keep-alive connections. gRPC: h2load over h2c against their "grpc"
// listener, 4 connections x 32 streams, posting the framed request.
func scenarios(p Payloads) []harness.Scenario {
	return []harness.Scenario{
		{Name: "rest-get", Listener: "rest", Scheme: "http", Method: "GET", Path: "/v1/shelves/1/books/1",
			Latency: "p99_ms"},
		{Name: "rest-post", Listener: "rest", Scheme: "http", Method: "POST", Path: "/v1/echo",
			Args: []string{"-s", p.PostLua}, Latency: "p99_ms"},
		{Name: "grpc-unary", Listener: "grpc", H2load: true, Scheme: "http", Method: "POST",
			Path: "/" + serviceName + "/GetBook", Latency: "mean_ms",
			Args: []string{"-d", p.GRPCBody, "-H", "content-type: application/grpc", "-H", "te: trailers"}},
	}
}
