package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/bouncer-proxy/bouncer/bench/internal/harness"
	"github.com/bouncer-proxy/bouncer/transcode/sample"
)

// Payloads are the files the load generators send, written once per run.
type Payloads struct {
	PostLua     string // wrk script: POST the Echo JSON
	GRPCBody    string // one framed GetBookRequest (h2load)
	GRPCMessage string // the same GetBookRequest, not framed (ghz)
	Protoset    string // every descriptor of the sample, for ghz to encode calls
}

// payloadsIn names the request files in dir.
func payloadsIn(dir string) Payloads {
	return Payloads{
		PostLua:     filepath.Join(dir, "post-echo.lua"),
		GRPCBody:    filepath.Join(dir, "getbook.grpc"),
		GRPCMessage: filepath.Join(dir, "getbook.msg"),
		Protoset:    filepath.Join(dir, "library-all.protoset"),
	}
}

// write writes the request files.
func (p Payloads) write() error {
	frame, err := getBookFrame()
	if err != nil {
		return err
	}
	set, err := protoset()
	if err != nil {
		return err
	}
	lua := fmt.Sprintf("wrk.method = \"POST\"\nwrk.headers[\"Content-Type\"] = \"application/json\"\nwrk.body = %s\n",
		strconv.Quote(echoJSON))
	for _, f := range []struct {
		path string
		data []byte
	}{{p.PostLua, []byte(lua)}, {p.GRPCBody, frame}, {p.GRPCMessage, frame[5:]}, {p.Protoset, set}} {
		if err := os.WriteFile(f.path, f.data, 0o644); err != nil {
			return fmt.Errorf("write request file: %w", err)
		}
	}
	return nil
}

// scenarios is every scenario, in the order they run, sending p's files.
// REST: wrk over HTTP/1.1 against the targets' "rest" listener, 1 thread,
// 50 keep-alive connections. gRPC: h2load over h2c against their "grpc"
// listener, 4 connections x 32 streams, posting the framed request; then
// the same call with ghz, a gRPC client, 4 connections x 128 workers, for
// the p99 latency h2load cannot give.
func scenarios(p Payloads) []harness.Scenario {
	return []harness.Scenario{
		{Name: "rest-get", Listener: "rest", Scheme: "http", Method: "GET", Path: "/v1/shelves/1/books/1",
			Latency: "p99_ms"},
		{Name: "rest-post", Listener: "rest", Scheme: "http", Method: "POST", Path: "/v1/echo",
			Args: []string{"-s", p.PostLua}, Latency: "p99_ms"},
		{Name: "grpc-unary", Listener: "grpc", H2load: true, Scheme: "http", Method: "POST",
			Path: "/" + serviceName + "/GetBook", Latency: "mean_ms",
			Args: []string{"-d", p.GRPCBody, "-H", "content-type: application/grpc", "-H", "te: trailers"}},
		{Name: "grpc-unary-ghz", Listener: "grpc", Ghz: true, Scheme: "http", Method: "POST",
			Path: "/" + serviceName + "/GetBook", Latency: "p99_ms",
			Args: []string{"--protoset", p.Protoset, "--binary-file", p.GRPCMessage,
				"--disable-template-functions", "--disable-template-data"}},
	}
}

// protoset answers every file of the sample's descriptors, imports
// included, as a serialized FileDescriptorSet: all ghz needs to encode a
// call, without reflection through the target.
func protoset() ([]byte, error) {
	files, err := sample.Files()
	if err != nil {
		return nil, err
	}
	set := &descriptorpb.FileDescriptorSet{}
	files.RangeFiles(func(f protoreflect.FileDescriptor) bool {
		set.File = append(set.File, protodesc.ToFileDescriptorProto(f))
		return true
	})
	b, err := proto.Marshal(set)
	if err != nil {
		return nil, fmt.Errorf("marshal protoset: %w", err)
	}
	return b, nil
}
