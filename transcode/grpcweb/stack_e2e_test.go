package grpcweb

import (
	"bytes"
	"encoding/base64"
	"slices"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/protobuf/proto"
)

const (
	unaryPath  = "/grpc.testing.TestService/UnaryCall"
	streamPath = "/grpc.testing.TestService/StreamingOutputCall"
)

func marshal(t *testing.T, m proto.Message) []byte {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func webHeader(ctype string) map[string]string {
	return map[string]string{
		"Content-Type": ctype, "X-Grpc-Web": "1", "X-User-Agent": "grpc-web-javascript/0.1",
		"Origin": "https://app.example",
	}
}

func TestUnary(t *testing.T) {
	tests := []struct {
		ctype string
		text  bool
	}{
		{"application/grpc-web", false},
		{"application/grpc-web+proto", false},
		{"application/grpc-web-text", true},
		{"application/grpc-web-text+proto; charset=utf-8", true},
	}
	for _, tt := range tests {
		t.Run(tt.ctype, func(t *testing.T) {
			s := newStack(t, &testService{})
			body := frame(0, marshal(t, &testpb.SimpleRequest{Payload: &testpb.Payload{Body: []byte("ping")}}))
			if tt.text {
				body = encodeText(body)
			}
			resp := send(t, s.addr, rawRequest{path: unaryPath, header: webHeader(tt.ctype), body: body})
			want, _, _ := strings.Cut(tt.ctype, ";")
			if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != want {
				t.Fatalf("status %d, content type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
			}
			if resp.Header.Get("X-Echo-Header") != "h" || resp.Header.Get("X-Saw") != "clean" {
				t.Fatalf("header metadata %v", resp.Header)
			}
			if len(resp.Trailer) != 0 {
				t.Fatalf("HTTP trailers sent: %v", resp.Trailer)
			}
			exp := resp.Header.Values("Access-Control-Expose-Headers")
			if !tokenListed(exp, "grpc-status") || !tokenListed(exp, "grpc-message") ||
				!tokenListed(exp, "grpc-status-details-bin") {
				t.Fatalf("Access-Control-Expose-Headers %q", exp)
			}
			msgs, tr := readAllFrames(t, resp.Body, tt.text)
			var got testpb.SimpleResponse
			if len(msgs) != 1 || proto.Unmarshal(msgs[0], &got) != nil || string(got.GetPayload().GetBody()) != "ping" {
				t.Fatalf("messages %q", msgs)
			}
			bin := base64.RawStdEncoding.EncodeToString([]byte{0, 1, 0xfe})
			if !slices.Equal(tr["grpc-status"], []string{"0"}) ||
				!slices.Equal(tr["x-echo-trailer"], []string{"t1", "t2"}) ||
				!slices.Equal(tr["x-bin-bin"], []string{bin}) {
				t.Fatalf("trailers %q", tr)
			}
		})
	}
}

func TestServerStreaming(t *testing.T) {
	for _, text := range []bool{false, true} {
		ctype := map[bool]string{false: "application/grpc-web+proto", true: "application/grpc-web-text"}[text]
		t.Run(ctype, func(t *testing.T) {
			svc := &testService{release: make(chan struct{})}
			s := newStack(t, svc)
			sizes := []int32{10, 70000, 0, 3}
			req := &testpb.StreamingOutputCallRequest{}
			for _, n := range sizes {
				req.ResponseParameters = append(req.ResponseParameters, &testpb.ResponseParameters{Size: n})
			}
			body := frame(0, marshal(t, req))
			if text {
				body = encodeText(body)
			}
			resp := send(t, s.addr, rawRequest{path: streamPath, header: webHeader(ctype), body: body})
			// The server holds its second message until the first has reached the client:
			// frames are streamed, not gathered.
			first, err := readFrame(t, resp.Body, text)
			if err != nil || first.flag != 0 {
				t.Fatalf("first frame %v, %v", first.flag, err)
			}
			close(svc.release)
			msgs, tr := readAllFrames(t, resp.Body, text)
			msgs = append([][]byte{first.data}, msgs...)
			if len(msgs) != len(sizes) {
				t.Fatalf("%d messages, want %d", len(msgs), len(sizes))
			}
			for i, m := range msgs {
				var got testpb.StreamingOutputCallResponse
				if err := proto.Unmarshal(m, &got); err != nil {
					t.Fatal(err)
				}
				b := got.GetPayload().GetBody()
				if len(b) != int(sizes[i]) || (len(b) > 0 && b[len(b)-1] != byte(i)) {
					t.Fatalf("message %d: %d bytes", i, len(b))
				}
			}
			if !slices.Equal(tr["grpc-status"], []string{"0"}) || !slices.Equal(tr["x-stream"], []string{"done"}) {
				t.Fatalf("trailers %q", tr)
			}
		})
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name         string
		details      bool // headers first, then an error with details
		wantInHeader bool // trailers-only: the status is in the headers too
	}{
		{"with details", true, false},
		{"trailers only", false, true},
	}
	for _, tt := range tests {
		for _, text := range []bool{false, true} {
			ctype := map[bool]string{false: "application/grpc-web", true: "application/grpc-web-text"}[text]
			t.Run(tt.name+"/"+ctype, func(t *testing.T) {
				s := newStack(t, &testService{})
				req := &testpb.SimpleRequest{
					ResponseStatus: &testpb.EchoStatus{Code: int32(codes.NotFound), Message: "no such thing: ü"},
					FillServerId:   tt.details,
				}
				body := frame(0, marshal(t, req))
				if text {
					body = encodeText(body)
				}
				resp := send(t, s.addr, rawRequest{path: unaryPath, header: webHeader(ctype), body: body})
				if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != ctype {
					t.Fatalf("status %d, content type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
				}
				if got := resp.Header.Get("Grpc-Status") == "5"; got != tt.wantInHeader {
					t.Fatalf("grpc-status in headers: %v, want %v", got, tt.wantInHeader)
				}
				msgs, tr := readAllFrames(t, resp.Body, text)
				if len(msgs) != 0 {
					t.Fatalf("%d messages", len(msgs))
				}
				if !slices.Equal(tr["grpc-status"], []string{"5"}) ||
					!slices.Equal(tr["grpc-message"], []string{"no such thing: %C3%BC"}) {
					t.Fatalf("trailers %q", tr)
				}
				if !tt.details {
					return
				}
				if resp.Header.Get("X-Early") != "yes" {
					t.Fatalf("early header metadata missing: %v", resp.Header)
				}
				raw, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(tr["grpc-status-details-bin"][0], "="))
				if err != nil {
					t.Fatal(err)
				}
				var st spb.Status
				var br errdetails.BadRequest
				if err := proto.Unmarshal(raw, &st); err != nil || len(st.GetDetails()) != 1 ||
					st.GetDetails()[0].UnmarshalTo(&br) != nil || br.GetFieldViolations()[0].GetField() != "payload" {
					t.Fatalf("details %v, %v", &st, err)
				}
			})
		}
	}
}

func TestTextRequestBodies(t *testing.T) {
	msg := frame(0, marshal(t, &testpb.SimpleRequest{Payload: &testpb.Payload{Body: bytes.Repeat([]byte("z"), 5000)}}))
	valid := encodeText(msg)
	// The same frame encoded as padded segments of awkward sizes, then split across chunks
	// anywhere, including inside groups and padding.
	var segmented []byte
	for rest, n := msg, 1; len(rest) > 0; n += 3 {
		k := min(n, len(rest))
		segmented = append(segmented, encodeText(rest[:k])...)
		rest = rest[k:]
	}
	var chunks [][]byte
	for rest, n := segmented, 1; len(rest) > 0; n = n%7 + 1 {
		k := min(n, len(rest))
		chunks = append(chunks, rest[:k])
		rest = rest[k:]
	}
	invalidLate := slices.Clone(valid)
	invalidLate[6000] = '*'

	tests := []struct {
		name        string
		req         rawRequest
		wantStatus  string
		wantReached int32
	}{
		{"split padded chunks", rawRequest{chunks: chunks}, "0", 1},
		{"invalid at once", rawRequest{body: []byte("AAAAB!!!")}, "3", 0},
		{"invalid after forwarding", rawRequest{body: invalidLate}, "3", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStack(t, &testService{})
			tt.req.path = unaryPath
			tt.req.header = webHeader("application/grpc-web-text")
			resp := send(t, s.addr, tt.req)
			if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/grpc-web-text" {
				t.Fatalf("status %d, content type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
			}
			msgs, tr := readAllFrames(t, resp.Body, true)
			if !slices.Equal(tr["grpc-status"], []string{tt.wantStatus}) {
				t.Fatalf("trailers %q", tr)
			}
			if got := s.reached.Load(); got != tt.wantReached {
				t.Fatalf("%d requests forwarded, want %d", got, tt.wantReached)
			}
			if tt.wantStatus != "0" {
				if !strings.Contains(tr["grpc-message"][0], "invalid base64") {
					t.Fatalf("message %q", tr["grpc-message"])
				}
				return
			}
			var got testpb.SimpleResponse
			if len(msgs) != 1 || proto.Unmarshal(msgs[0], &got) != nil || len(got.GetPayload().GetBody()) != 5000 {
				t.Fatalf("%d messages", len(msgs))
			}
		})
	}
}
