package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/bouncer-proxy/bouncer/bench/internal/harness"
	"github.com/bouncer-proxy/bouncer/transcode/sample"
)

const (
	serviceName = sample.ServiceName
	bookName    = "shelves/1/books/1"
)

// checker makes one verified call per job: GetBook with grpc-go for the
// gRPC scenario, the REST call for the others, whose answers it keeps.
type checker struct {
	// bodies holds the REST answer of each job, by scenario then target.
	bodies map[string]map[string][]byte
}

func (c checker) Check(ctx context.Context, j harness.Job, addr string) error {
	if j.Scenario.Listener == "grpc" {
		return checkGRPC(ctx, addr)
	}
	b, err := checkREST(ctx, j.Scenario, addr)
	if c.bodies[j.Scenario.Name] == nil {
		c.bodies[j.Scenario.Name] = map[string][]byte{}
	}
	c.bodies[j.Scenario.Name][j.Target.Name] = b
	return err
}

// echoJSON is the body of rest-post: an Everything message touching the
// JSON mapping's special cases (int64 as strings, bytes as base64, enums by
// name, a json_name, a nested message, a map, a oneof, well-known types).
const echoJSON = `{"doubleField":2.5,"int32Field":-42,"int64Field":"9007199254740993",` +
	`"uint64Field":"18446744073709551615","boolField":true,"stringField":"hello transcoder",` +
	`"bytesField":"aGVsbG8=","genre":"POETRY","label":"Display","nested":{"note":"inner",` +
	`"count":"7"},"int64List":["1","2"],"labels":{"k":"v"},"choiceText":"picked",` +
	`"timestamp":"2026-11-27T12:00:00Z","duration":"1.500s"}`

// newMessage answers an empty dynamic message of the sample's type name.
func newMessage(name protoreflect.FullName) (*dynamicpb.Message, error) {
	files, err := sample.Files()
	if err != nil {
		return nil, err
	}
	d, err := files.FindDescriptorByName(name)
	if err != nil {
		return nil, fmt.Errorf("descriptor %s: %w", name, err)
	}
	md, ok := d.(protoreflect.MessageDescriptor)
	if !ok {
		return nil, fmt.Errorf("%s is not a message", name)
	}
	return dynamicpb.NewMessage(md), nil
}

// getBookRequest answers GetBookRequest{name: bookName}.
func getBookRequest() (*dynamicpb.Message, error) {
	m, err := newMessage("bouncer.library.v1.GetBookRequest")
	if err != nil {
		return nil, err
	}
	m.Set(m.Descriptor().Fields().ByName("name"), protoreflect.ValueOfString(bookName))
	return m, nil
}

// getBookFrame is the request as one uncompressed gRPC length-prefixed frame.
func getBookFrame() ([]byte, error) {
	m, err := getBookRequest()
	if err != nil {
		return nil, err
	}
	b, err := proto.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("marshal request: %w", err)
	}
	frame := make([]byte, 5, 5+len(b))
	binary.BigEndian.PutUint32(frame[1:], uint32(len(b)))
	return append(frame, b...), nil
}

// checkGRPC calls GetBook through addr with grpc-go and checks status OK
// and the book's name.
func checkGRPC(ctx context.Context, addr string) error {
	req, err := getBookRequest()
	if err != nil {
		return err
	}
	resp, err := newMessage("bouncer.library.v1.Book")
	if err != nil {
		return err
	}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return fmt.Errorf("grpc client: %w", err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := conn.Invoke(ctx, "/"+serviceName+"/GetBook", req, resp); err != nil {
		return fmt.Errorf("GetBook: %w", err)
	}
	if got := resp.Get(resp.Descriptor().Fields().ByName("name")).String(); got != bookName {
		return fmt.Errorf("GetBook: book %q, want %q", got, bookName)
	}
	return nil
}

// checkREST makes the scenario's REST call and checks status 200 and the
// answer: for GET the book's name, for POST that the echoed JSON decodes to
// the message sent. It answers the response body.
func checkREST(ctx context.Context, s harness.Scenario, addr string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var body io.Reader
	if s.Method == "POST" {
		body = strings.NewReader(echoJSON)
	}
	req, err := http.NewRequestWithContext(ctx, s.Method, "http://"+addr+s.Path, body)
	if err != nil {
		return nil, fmt.Errorf("request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", s.Method, s.Path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: body: %w", s.Method, s.Path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return b, fmt.Errorf("%s %s: status %d: %s", s.Method, s.Path, resp.StatusCode, harness.Tail(b))
	}
	if s.Method == "POST" {
		return b, sameEcho(b)
	}
	book, err := newMessage("bouncer.library.v1.Book")
	if err == nil {
		err = protojson.Unmarshal(b, book)
	}
	if err != nil {
		return b, fmt.Errorf("GET %s: %w", s.Path, err)
	}
	if got := book.Get(book.Descriptor().Fields().ByName("name")).String(); got != bookName {
		return b, fmt.Errorf("GET %s: book %q, want %q", s.Path, got, bookName)
	}
	return b, nil
}

// sameEcho checks that an Echo answer decodes to the message of echoJSON.
func sameEcho(got []byte) error {
	want, err := newMessage("bouncer.library.v1.Everything")
	if err != nil {
		return err
	}
	have := want.New().Interface()
	if err := protojson.Unmarshal([]byte(echoJSON), want); err != nil {
		return fmt.Errorf("echo request: %w", err)
	}
	if err := protojson.Unmarshal(bytes.TrimSpace(got), have); err != nil {
		return fmt.Errorf("echo answer: %w", err)
	}
	// Fields the request left unset may come back populated: grpc-gateway
	// writes every field, and its null for an unset google.protobuf.Value
	// reads back as a set NULL_VALUE. The results file lists such members.
	have.ProtoReflect().Range(func(fd protoreflect.FieldDescriptor, _ protoreflect.Value) bool {
		if !want.Has(fd) {
			have.ProtoReflect().Clear(fd)
		}
		return true
	})
	if !proto.Equal(want, have) {
		return fmt.Errorf("echo answer differs from the request: %s", harness.Tail(got))
	}
	return nil
}
