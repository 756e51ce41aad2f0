package transcode_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/bouncer-proxy/bouncer/transcode"
	"github.com/bouncer-proxy/bouncer/transcode/descriptors"
	"github.com/bouncer-proxy/bouncer/transcode/grpcsvc"
	"github.com/bouncer-proxy/bouncer/transcode/sample"
)

// startRawStream is a fixture whose service has one more method,
// RawStream(DownloadFileRequest) returns (stream google.api.HttpBody),
// bound to GET /v1/raw-stream and served by h.
func startRawStream(t *testing.T, h grpcsvc.Handler) *fixture {
	t.Helper()
	var w *descriptors.Watcher
	f := startFixtureSource(t, "", nil, func(addr string) transcode.Source {
		w = descriptors.NewWatcher(descriptors.WatcherConfig{Endpoints: func() []string { return []string{addr} }, MinInterval: time.Millisecond})
		w.Start(context.Background())
		t.Cleanup(w.Stop)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := w.Refresh(ctx); err != nil { // the first round, on the files before the swap
			t.Fatal(err)
		}
		return w
	})
	files := withMethod(t, &descriptorpb.MethodDescriptorProto{Name: proto.String("RawStream"), ServerStreaming: proto.Bool(true),
		InputType: proto.String(".bouncer.library.v1.DownloadFileRequest"), OutputType: proto.String(".google.api.HttpBody")}, "/v1/raw-stream")
	handlers := sample.Handlers()
	handlers["/"+sample.ServiceName+"/RawStream"] = h
	if err := f.svc.Swap(files, handlers); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := w.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	return f
}

// waitIdle waits until the route's upstream has no call in flight: every
// exchange has reported Done.
func waitIdle(t *testing.T, f *fixture) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st := f.cluster.Status()
		if st.Requests == 0 && st.Endpoints[0].InFlight == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("calls still in flight: %d requests, %d on the endpoint", st.Requests, st.Endpoints[0].InFlight)
		}
		time.Sleep(5 * time.Millisecond) // polling a counter, not synchronising
	}
}

// A raw HttpBody stream that fails after its first chunk is cut, and its
// call still ends: with max_requests 1, the next call is served.
func TestRawStreamFailureReleasesCall(t *testing.T) {
	upstreamExtra = ", circuit_breaker: {max_requests: 1}"
	defer func() { upstreamExtra = "" }()
	f := startRawStream(t, func(c *grpcsvc.Call) error {
		if _, err := c.Recv(); err != nil {
			return err
		}
		chunk := dynamicpb.NewMessage(c.Method.Output())
		chunk.Set(c.Method.Output().Fields().ByName("data"), protoreflect.ValueOfBytes([]byte("first chunk")))
		if err := c.Send(chunk); err != nil {
			return err
		}
		return status.Error(codes.DataLoss, "disk gone")
	})
	res, err := http.Get(f.URL + "/v1/raw-stream")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err == nil || !strings.HasPrefix(string(body), "first chunk") {
		t.Fatalf("the failed raw stream was not cut: %q %v", body, err)
	}
	waitIdle(t, f)
	if r := f.do(t, "GET", "/v1/shelves", ""); r.Status != 200 {
		t.Fatalf("the next call: %d %s", r.Status, r.Body)
	}
}

// A malformed line of a client stream is the client's mistake: a 400
// naming it, and no failure counted against the endpoint.
func TestClientStreamBadLine(t *testing.T) {
	f := startFixture(t, "")
	body := `{"parent":"shelves/2","book":{"title":"ok"}}` + "\n{broken\n"
	r := f.do(t, "POST", "/v1/books:batchCreate", body, "Content-Type", "application/x-ndjson")
	if st := statusOf(t, r); r.Status != 400 || st.Code != int(codes.InvalidArgument) {
		t.Fatalf("malformed line: %d %s", r.Status, r.Body)
	}
	waitIdle(t, f)
	if ep := f.cluster.Status().Endpoints[0]; ep.Failures != 0 || ep.Consecutive5xx != 0 {
		t.Fatalf("the client's mistake counted against the endpoint: %+v", ep)
	}
}

// A client stream's line may be max_request_body_bytes long, not more,
// however small the limit.
func TestClientStreamLineLimit(t *testing.T) {
	f := startFixture(t, "max_request_body_bytes: 100")
	line := func(n int) string {
		l := `{"parent":"shelves/2","book":{"title":"`
		return l + strings.Repeat("x", n-len(l)-3) + `"}}` + "\n"
	}
	if got := len(line(100)); got != 101 {
		t.Fatalf("test line is %d bytes", got)
	}
	if r := f.do(t, "POST", "/v1/books:batchCreate", line(100), "Content-Type", "application/x-ndjson"); r.Status != 200 {
		t.Fatalf("a line at the limit: %d %s", r.Status, r.Body)
	}
	r := f.do(t, "POST", "/v1/books:batchCreate", line(101), "Content-Type", "application/x-ndjson")
	if st := statusOf(t, r); r.Status != 413 || st.Code != int(codes.InvalidArgument) {
		t.Fatalf("a line over the limit: %d %s", r.Status, r.Body)
	}
}

// A bad WebSocket message fails the call with INVALID_ARGUMENT, not as an
// upstream failure.
func TestWebSocketBadMessage(t *testing.T) {
	f := startFixture(t, "")
	ws, res, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(f.URL, "http")+"/v1/chat", nil)
	if err != nil {
		t.Fatalf("dial: %v (%v)", err, res)
	}
	defer ws.Close()
	_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	if err := ws.WriteMessage(websocket.TextMessage, []byte(`{broken`)); err != nil {
		t.Fatal(err)
	}
	_, msg, err := ws.ReadMessage()
	if err != nil || !strings.Contains(string(msg), `"code":3`) {
		t.Fatalf("error record: %s %v", msg, err)
	}
	waitIdle(t, f)
	if ep := f.cluster.Status().Endpoints[0]; ep.Failures != 0 {
		t.Fatalf("the client's mistake counted against the endpoint: %+v", ep)
	}
}

// A WebSocket message longer than the route's max_request_body_bytes
// closes the socket with 1009 (message too big); shorter ones are served.
func TestWebSocketMessageLimit(t *testing.T) {
	f := startFixture(t, "max_request_body_bytes: 100")
	dial := func() *websocket.Conn {
		ws, res, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(f.URL, "http")+"/v1/chat", nil)
		if err != nil {
			t.Fatalf("dial: %v (%v)", err, res)
		}
		t.Cleanup(func() { ws.Close() })
		_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
		return ws
	}
	ws := dial()
	if err := ws.WriteMessage(websocket.TextMessage, []byte(`{"text":"`+strings.Repeat("a", 200)+`"}`)); err != nil {
		t.Fatal(err)
	}
	for {
		_, msg, err := ws.ReadMessage()
		if err == nil {
			continue // a record sent before the close
		}
		if !websocket.IsCloseError(err, websocket.CloseMessageTooBig) {
			t.Fatalf("after a 200-byte message: %v (last %s), want close 1009", err, msg)
		}
		break
	}
	ws = dial()
	if err := ws.WriteMessage(websocket.TextMessage, []byte(`{"text":"hi"}`)); err != nil {
		t.Fatal(err)
	}
	if _, msg, err := ws.ReadMessage(); err != nil || !strings.Contains(string(msg), "hi") {
		t.Fatalf("a short message: %s %v", msg, err)
	}
}

// A deadline that passes once the response head has arrived is a 504
// DEADLINE_EXCEEDED, for a unary call and within a stream.
func TestDeadlineAfterHeaders(t *testing.T) {
	release := make(chan struct{})
	hang := func(c *grpcsvc.Call) error {
		if _, err := c.Recv(); err != nil {
			return err
		}
		if err := c.SendHeader(nil); err != nil {
			return err
		}
		<-release // past the deadline, whatever the context says
		return nil
	}
	f := startFixtureWith(t, "timeout: 5s", map[string]grpcsvc.Handler{
		"/bouncer.library.v1.Library/CountBooks": hang,
		"/bouncer.library.v1.Library/Watch":      hang,
	})
	t.Cleanup(func() { close(release) })
	r := f.do(t, "POST", "/bouncer.library.v1.Library/CountBooks", "{}", "Grpc-Timeout", "200m")
	if st := statusOf(t, r); r.Status != 504 || st.Code != int(codes.DeadlineExceeded) {
		t.Fatalf("unary: %d %s", r.Status, r.Body)
	}
	r = f.do(t, "GET", "/v1/shelves/1:watch", "", "Grpc-Timeout", "200m")
	if st := statusOf(t, r); r.Status != 504 || st.Code != int(codes.DeadlineExceeded) {
		t.Fatalf("stream: %d %s", r.Status, r.Body)
	}
}

// A stream that breaks off on a message it cannot write answers at once
// and cancels the upstream call, which would otherwise go on.
func TestStreamBadMessageCancelsCall(t *testing.T) {
	for _, goodFirst := range []bool{false, true} {
		canceled := make(chan struct{})
		f := startFixtureWith(t, "", map[string]grpcsvc.Handler{
			"/bouncer.library.v1.Library/Watch": func(c *grpcsvc.Call) error {
				if _, err := c.Recv(); err != nil {
					return err
				}
				out := c.Method.Output()
				if goodFirst {
					if err := c.Send(dynamicpb.NewMessage(out)); err != nil {
						return err
					}
				}
				// A Timestamp out of JSON's range: valid on the wire, not as JSON.
				ev := dynamicpb.NewMessage(out)
				book := ev.Mutable(out.Fields().ByName("book")).Message()
				ts := book.Mutable(book.Descriptor().Fields().ByName("publish_time")).Message()
				ts.Set(ts.Descriptor().Fields().ByName("seconds"), protoreflect.ValueOfInt64(1<<62))
				if err := c.Send(ev); err != nil {
					return err
				}
				<-c.Ctx.Done()
				close(canceled)
				return c.Ctx.Err()
			},
		})
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		req, _ := http.NewRequestWithContext(ctx, "GET", f.URL+"/v1/shelves/1:watch", nil)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(res.Body)
		res.Body.Close()
		cancel()
		if err != nil || !strings.Contains(string(body), "cannot be decoded") {
			t.Fatalf("good first %v: %d %q %v", goodFirst, res.StatusCode, body, err)
		}
		select {
		case <-canceled:
		case <-time.After(10 * time.Second):
			t.Fatalf("good first %v: the upstream call was not cancelled", goodFirst)
		}
	}
}

// A WebSocket client that leaves cancels its call; a call's Grpc-Timeout
// bounds it here too.
func TestWebSocketCallEnds(t *testing.T) {
	started, canceled, release := make(chan struct{}, 1), make(chan struct{}, 1), make(chan struct{})
	f := startFixtureWith(t, "", map[string]grpcsvc.Handler{
		"/bouncer.library.v1.Library/Chat": func(c *grpcsvc.Call) error {
			if _, err := c.Recv(); err != nil {
				return err
			}
			if c.Metadata().Get("x-hang") != nil {
				<-release
				return nil
			}
			started <- struct{}{}
			<-c.Ctx.Done()
			canceled <- struct{}{}
			return c.Ctx.Err()
		},
	})
	t.Cleanup(func() { close(release) })
	url := "ws" + strings.TrimPrefix(f.URL, "http") + "/v1/chat"
	ws, _, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := ws.WriteMessage(websocket.TextMessage, []byte(`{"user":"me","text":"hi"}`)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("the call never reached the service")
	}
	ws.NetConn().Close() // the client leaves without a word
	select {
	case <-canceled:
	case <-time.After(10 * time.Second):
		t.Fatal("the call went on after the WebSocket client left")
	}

	hdr := http.Header{"Grpc-Timeout": {"200m"}, "Grpc-Metadata-X-Hang": {"1"}}
	ws, _, err = websocket.DefaultDialer.Dial(url, hdr)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	if err := ws.WriteMessage(websocket.TextMessage, []byte(`{"user":"me","text":"hi"}`)); err != nil {
		t.Fatal(err)
	}
	_, msg, err := ws.ReadMessage()
	if err != nil || !strings.Contains(string(msg), `"code":4`) {
		t.Fatalf("deadline record: %s %v", msg, err)
	}
}
