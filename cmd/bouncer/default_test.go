package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/bouncer-proxy/bouncer/configs"
	"github.com/bouncer-proxy/bouncer/l4/upstream"
	"github.com/bouncer-proxy/bouncer/l7/proxy"
)

// TestDefaultConfigBuilds: the embedded default parses and compiles into
// the route table it documents.
func TestDefaultConfigBuilds(t *testing.T) {
	t.Parallel()
	cfg, err := configs.Parse(configs.Default, configs.DefaultName)
	if err != nil {
		t.Fatalf("parse embedded default: %v", err)
	}
	reg := upstream.NewRegistry(upstream.Options{Logger: slog.New(slog.DiscardHandler)})
	defer reg.Close()
	g, err := build(cfg, deps{reg: reg, tr: proxy.NewTransports(), grpc: newGRPCSources(slog.New(slog.DiscardHandler)), log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("build embedded default: %v", err)
	}
	if !cfg.Sample.Enabled || g.clusters["sample"] == nil {
		t.Errorf("default config should enable the sample backend and its upstream")
	}
	var names []string
	for _, row := range g.snap.Tables["web"].Rows() {
		names = append(names, row.Name)
	}
	if strings.Join(names, ",") != "home,library-grpc,shelf-summary,sample,library" {
		t.Errorf("web routes in precedence order = %v, want [home library-grpc shelf-summary sample library]", names)
	}
	if g.grpc["library"] == nil {
		t.Errorf("the library upstream has no descriptor source")
	}
}

// TestDefaultConfigServes runs the App in-process on the embedded default,
// with its fixed ports (8080, 8081, 9901) replaced so the test can run
// anywhere: listener and admin on port 0, the sample backend on a port
// found free just before (the upstream must name it in the same config).
func TestDefaultConfigServes(t *testing.T) {
	t.Parallel()
	cfg, err := configs.Parse(configs.Default, configs.DefaultName)
	if err != nil {
		t.Fatal(err)
	}
	sampleAddr := freePort(t)
	cfg.Admin.Address = "127.0.0.1:0"
	cfg.Listeners[0].Address = "127.0.0.1:0"
	cfg.Sample.Address = sampleAddr
	up := cfg.Upstreams["sample"]
	up.Endpoints = []configs.Endpoint{{Address: sampleAddr, Weight: 1}}
	cfg.Upstreams["sample"] = up
	grpcAddr := freePort(t)
	cfg.Sample.GRPCAddress = grpcAddr
	lib := cfg.Upstreams["library"]
	lib.Endpoints = []configs.Endpoint{{Address: grpcAddr, Weight: 1}}
	cfg.Upstreams["library"] = lib
	echo1, echo2 := freePort(t), freePort(t)
	cfg.Sample.TCPEcho = []string{echo1, echo2}
	cfg.Listeners[1].Address = "127.0.0.1:0"
	ec := cfg.Upstreams["echo"]
	ec.Endpoints = []configs.Endpoint{{Address: echo1, Weight: 1}, {Address: echo2, Weight: 1}}
	cfg.Upstreams["echo"] = ec
	cfg.Log.AccessLog = false

	discard := slog.New(slog.DiscardHandler)
	app := newApp(source{}, discard, nil, discard)
	t.Cleanup(func() { _ = app.Shutdown(context.Background()) })
	if err := app.Start(cfg); err != nil {
		t.Fatalf("start: %v", err)
	}
	base := "http://" + app.Addrs()["web"]

	code, body := httpDo(t, http.MethodGet, base+"/")
	if code != http.StatusOK || !strings.Contains(body, "Bouncer is running on its embedded default config") {
		t.Errorf("GET /: %d %q", code, body)
	}

	resp, err := plainClient.Get(base + "/sample/hello")
	if err != nil {
		t.Fatalf("GET /sample/hello: %v", err)
	}
	defer resp.Body.Close()
	var hello struct {
		Message   string `json:"message"`
		Path      string `json:"path"`
		RequestID string `json:"request_id"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&hello); err != nil {
		t.Fatalf("decode sample answer: %v", err)
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Sample-Backend") == "" ||
		!strings.Contains(hello.Message, "sample backend") || hello.Path != "/hello" || hello.RequestID == "" {
		t.Errorf("GET /sample/hello: %d %+v (headers %v)", resp.StatusCode, hello, resp.Header)
	}

	// The transcode route's method table is built as soon as the
	// descriptors arrive, before any request asks for it.
	app.mu.Lock()
	libRoute := app.cur.trans["library"]
	app.mu.Unlock()
	eventually(t, 10*time.Second, "the library route's table built without a request", libRoute.Ready)

	// The sample gRPC service as REST, from descriptors fetched through
	// reflection in the background: poll until they are in.
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, body = httpDo(t, http.MethodGet, base+"/v1/shelves")
		if code == http.StatusOK || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if code != http.StatusOK || !strings.Contains(body, `"shelves/1"`) {
		t.Errorf("GET /v1/shelves: %d %s", code, body)
	}
	code, body = httpDo(t, http.MethodGet, base+"/v1/shelves/1/books")
	if code != http.StatusOK || !strings.Contains(body, "Dune") {
		t.Errorf("GET /v1/shelves/1/books: %d %s", code, body)
	}
	// The aggregate: two transcoded gRPC calls and one to the sample backend.
	code, body = httpDo(t, http.MethodGet, base+"/summary/shelves/1")
	if code != http.StatusOK || !strings.Contains(body, `"shelf":{`) || !strings.Contains(body, "Dune") ||
		!strings.Contains(body, `"hello":{"message":`) || strings.Contains(body, "_errors") {
		t.Errorf("GET /summary/shelves/1: %d %s", code, body)
	}
	code, body = httpDo(t, http.MethodGet, "http://"+app.admin.addr+"/descriptors")
	if code != http.StatusOK || !strings.Contains(body, grpcAddr) || !strings.Contains(body, "GET /v1/{name=shelves/*} -> bouncer.library.v1.Library/GetShelf (annotation)") {
		t.Errorf("admin /descriptors: %d %s", code, body)
	}

	code, body = httpDo(t, http.MethodGet, "http://"+app.admin.addr+"/metrics")
	if code != http.StatusOK || !strings.Contains(body, `route="library /bouncer.library.v1.Library/ListShelves"`) {
		t.Errorf("no per-method request metrics for transcoded calls")
	}

	code, body = httpDo(t, http.MethodGet, "http://"+app.admin.addr+"/upstreams")
	if code != http.StatusOK || !strings.Contains(body, sampleAddr) {
		t.Errorf("admin /upstreams: %d %s", code, body)
	}

	// The TCP listener balances lines over the two sample echo services.
	seen := map[string]bool{}
	for range 4 {
		c, err := net.Dial("tcp", app.Addrs()["tcp"])
		if err != nil {
			t.Fatal(err)
		}
		reply := lineClient(t, c, "hi")
		c.Close()
		name, _, _ := strings.Cut(reply, ":")
		seen[name] = true
		if !strings.HasSuffix(reply, ": hi") {
			t.Errorf("echo answered %q", reply)
		}
	}
	if len(seen) != 2 {
		t.Errorf("4 connections reached %v, want both echo services", seen)
	}
}
