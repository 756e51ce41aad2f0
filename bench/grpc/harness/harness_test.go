package main

import (
	"os"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/bouncer-proxy/bouncer/bench/internal/harness"
	"github.com/bouncer-proxy/bouncer/transcode/sample"
)

func TestJSONDiff(t *testing.T) {
	got := jsonDiff([]byte(`{"a":"1","b":2,"c":null}`), []byte(`{"a":"1","b":3,"d":true}`))
	want := "b: 2 vs 3; only here: c=<nil>; only in ref: d=true"
	if got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestGetBookFrame(t *testing.T) {
	f, err := getBookFrame()
	if err != nil {
		t.Fatal(err)
	}
	if f[0] != 0 || int(f[4]) != len(f)-5 || !strings.Contains(string(f), bookName) {
		t.Fatalf("frame %x", f)
	}
}

func TestCheckGRPCAgainstSample(t *testing.T) {
	addr, stop, err := sample.Start("")
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	if err := checkGRPC(t.Context(), addr); err != nil {
		t.Fatal(err)
	}
}

func TestSameEcho(t *testing.T) {
	if err := sameEcho([]byte(echoJSON)); err != nil {
		t.Fatalf("the request itself: %v", err)
	}
	extra := strings.TrimSuffix(echoJSON, "}") + `,"value":null,"fieldMask":null}`
	if err := sameEcho([]byte(extra)); err != nil {
		t.Fatalf("unset members written as null: %v", err)
	}
	changed := strings.Replace(echoJSON, `"9007199254740993"`, `"9007199254740992"`, 1)
	if err := sameEcho([]byte(changed)); err == nil {
		t.Fatal("a changed int64 was accepted")
	}
}

func TestParseFlags(t *testing.T) {
	work := t.TempDir()
	p, err := parseFlags([]string{"-target", "bouncer,pid=3,rest=127.0.0.1:1,grpc=127.0.0.1:1",
		"-scenarios", "grpc-unary-ghz,grpc-unary,rest-post,bogus", "-grpc-ref", "nginx", "-work", work, "-out", "x.md"})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Scenarios) != 3 || p.Scenarios[0].Name != "rest-post" || p.Scenarios[2].Name != "grpc-unary-ghz" ||
		p.Refs["grpc-unary"] != "nginx" || p.Refs["grpc-unary-ghz"] != "nginx" ||
		p.Refs["rest-get"] != "grpc-gateway" || !p.LatencyMS || !p.Opt.SuccessOnly {
		t.Fatalf("plan %+v", p)
	}
	want := "refs=map[grpc-unary:nginx grpc-unary-ghz:nginx rest-get:grpc-gateway rest-post:grpc-gateway]"
	if p.RefKnob != want {
		t.Errorf("knob %q, want %q", p.RefKnob, want)
	}
	if err := p.Prepare(); err != nil {
		t.Fatal(err)
	}
	frame, err := os.ReadFile(payloadsIn(work).GRPCBody)
	if err != nil || !strings.Contains(string(frame), bookName) {
		t.Fatalf("request file: %v", err)
	}
	for _, bad := range [][]string{
		{"-target", "a,grpc=127.0.0.1:1", "-out", "x.md"},
		{"-target", "a,grpc=127.0.0.1:1", "-work", work, "-out", "x.md", "-scenarios", "nope"},
		{"-target", "a,h1=127.0.0.1:1", "-work", work, "-out", "x.md"},
	} {
		if _, err := parseFlags(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestCheckerGRPC(t *testing.T) {
	addr, stop, err := sample.Start("")
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	c := checker{bodies: map[string]map[string][]byte{}}
	unary := scenarios(Payloads{})[2]
	if err := c.Check(t.Context(), harness.Job{Scenario: unary, Target: harness.Target{Name: "direct"}}, addr); err != nil {
		t.Fatal(err)
	}
	if err := c.Check(t.Context(), harness.Job{Scenario: scenarios(Payloads{})[0], Target: harness.Target{Name: "direct"}}, addr); err == nil {
		t.Fatal("a REST call to a gRPC-only server passed")
	}
	if _, ok := c.bodies["rest-get"]["direct"]; !ok {
		t.Fatal("the REST answer was not kept")
	}
}

// TestGhzFiles decodes the files ghz is given the way it reads them: the
// protoset must resolve on its own (imports included) and name GetBook,
// and the message file must be a bare GetBookRequest.
func TestGhzFiles(t *testing.T) {
	p := payloadsIn(t.TempDir())
	if err := p.write(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p.Protoset)
	if err != nil {
		t.Fatal(err)
	}
	var set descriptorpb.FileDescriptorSet
	if err := proto.Unmarshal(b, &set); err != nil {
		t.Fatal(err)
	}
	files, err := protodesc.NewFiles(&set)
	if err != nil {
		t.Fatalf("protoset does not resolve on its own: %v", err)
	}
	d, err := files.FindDescriptorByName(serviceName + ".GetBook")
	if err != nil {
		t.Fatal(err)
	}
	md, ok := d.(protoreflect.MethodDescriptor)
	if !ok {
		t.Fatalf("%s is not a method", d.FullName())
	}
	msg, err := os.ReadFile(p.GRPCMessage)
	if err != nil {
		t.Fatal(err)
	}
	req := dynamicpb.NewMessage(md.Input())
	if err := proto.Unmarshal(msg, req); err != nil {
		t.Fatal(err)
	}
	if got := req.Get(md.Input().Fields().ByName("name")).String(); got != bookName {
		t.Fatalf("request name %q, want %q", got, bookName)
	}
	ghz := scenarios(p)[3]
	if !ghz.Ghz || ghz.Latency != "p99_ms" || !slices.Contains(ghz.Args, p.Protoset) || !slices.Contains(ghz.Args, p.GRPCMessage) {
		t.Fatalf("scenario %+v", ghz)
	}
}
