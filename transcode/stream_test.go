package transcode_test

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/bouncer-proxy/bouncer/transcode/grpcsvc"
)

const streamBooks = "/v1/shelves/1/books:stream"

// A server stream is written as NDJSON by default, as server-sent events
// or one JSON array when Accept asks, each message flushed as it comes.
func TestServerStreamFormats(t *testing.T) {
	f := startFixture(t, "")
	r := f.do(t, "GET", streamBooks, "")
	lines := strings.Split(strings.TrimSpace(r.Body), "\n")
	if r.Status != 200 || r.Header.Get("Content-Type") != "application/x-ndjson" || len(lines) != 2 {
		t.Fatalf("ndjson: %d %q\n%s", r.Status, r.Header.Get("Content-Type"), r.Body)
	}
	for _, l := range lines {
		if jsonOf(t, l)["title"] == nil {
			t.Fatalf("ndjson line %q", l)
		}
	}
	r = f.do(t, "GET", streamBooks, "", "Accept", "text/event-stream")
	if r.Status != 200 || r.Header.Get("Content-Type") != "text/event-stream" || strings.Count(r.Body, "data: {") != 2 || !strings.HasSuffix(r.Body, "\n\n") {
		t.Fatalf("sse: %d %q\n%s", r.Status, r.Header.Get("Content-Type"), r.Body)
	}
	r = f.do(t, "GET", streamBooks, "", "Accept", "application/json")
	var arr []map[string]any
	if err := json.Unmarshal([]byte(r.Body), &arr); err != nil || r.Status != 200 || len(arr) != 2 {
		t.Fatalf("array: %d %v\n%s", r.Status, err, r.Body)
	}
	// An error before the first message is a plain HTTP error.
	r = f.do(t, "GET", "/v1/shelves/999/books:stream", "")
	if st := statusOf(t, r); r.Status != 404 || st.Code != 5 {
		t.Fatalf("stream of a missing shelf: %d %s", r.Status, r.Body)
	}
}

// An error after the first message cannot change the status line: it is
// an in-band record in every format.
func TestServerStreamErrorAfterFirstMessage(t *testing.T) {
	f := startFixtureWith(t, "", map[string]grpcsvc.Handler{
		"/bouncer.library.v1.Library/StreamBooks": func(c *grpcsvc.Call) error {
			if _, err := c.Recv(); err != nil {
				return err
			}
			book := dynamicpb.NewMessage(c.Method.Output())
			book.Set(c.Method.Output().Fields().ByName("title"), protoreflect.ValueOfString("first"))
			if err := c.Send(book); err != nil {
				return err
			}
			return status.Error(codes.DataLoss, "shelf collapsed")
		},
	})
	for accept, want := range map[string]string{
		"":                  `{"error":{"code":15, "message":"shelf collapsed"}}`,
		"text/event-stream": "event: error\ndata: {\"code\":15, \"message\":\"shelf collapsed\"}",
		"application/json":  `,{"error":{"code":15, "message":"shelf collapsed"}}]`,
	} {
		r := f.do(t, "GET", streamBooks, "", "Accept", accept)
		if r.Status != 200 || !strings.Contains(r.Body, "first") || !strings.Contains(strings.ReplaceAll(r.Body, " ", ""), strings.ReplaceAll(want, " ", "")) {
			t.Errorf("accept %q: %d\n%s\nwant it to contain %s", accept, r.Status, r.Body, want)
		}
	}
}

// A quiet server-sent event stream gets comment heartbeats.
func TestSSEHeartbeat(t *testing.T) {
	f := startFixtureWith(t, "sse_heartbeat: 20ms", map[string]grpcsvc.Handler{
		"/bouncer.library.v1.Library/Watch": func(c *grpcsvc.Call) error {
			if _, err := c.Recv(); err != nil {
				return err
			}
			ev := dynamicpb.NewMessage(c.Method.Output())
			ev.Set(c.Method.Output().Fields().ByName("sequence"), protoreflect.ValueOfInt64(1))
			if err := c.Send(ev); err != nil {
				return err
			}
			<-c.Ctx.Done() // then nothing, until the client leaves
			return c.Ctx.Err()
		},
	})
	req, _ := http.NewRequest("GET", f.URL+"/v1/shelves/1:watch", nil)
	req.Header.Set("Accept", "text/event-stream")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	br := bufio.NewReader(res.Body)
	deadline := time.AfterFunc(10*time.Second, func() { res.Body.Close() })
	defer deadline.Stop()
	sawData := false
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("stream ended before a heartbeat (data seen: %v): %v", sawData, err)
		}
		if strings.HasPrefix(line, "data: ") {
			sawData = true
		}
		if sawData && strings.HasPrefix(line, ": ") {
			return
		}
	}
}

// A server-sent event stream whose upstream answered but sends no message
// sends its head with the first heartbeat.
func TestSSEHeartbeatBeforeFirstMessage(t *testing.T) {
	f := startFixtureWith(t, "sse_heartbeat: 20ms", map[string]grpcsvc.Handler{
		"/bouncer.library.v1.Library/Watch": func(c *grpcsvc.Call) error {
			if _, err := c.Recv(); err != nil {
				return err
			}
			if err := c.SendHeader(nil); err != nil {
				return err
			}
			<-c.Ctx.Done() // no message, until the client leaves
			return c.Ctx.Err()
		},
	})
	req, _ := http.NewRequest("GET", f.URL+"/v1/shelves/1:watch", nil)
	req.Header.Set("Accept", "text/event-stream")
	c := &http.Client{Timeout: 10 * time.Second}
	res, err := c.Do(req)
	if err != nil {
		t.Fatalf("no response head while the upstream is quiet: %v", err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("head: %d %q", res.StatusCode, res.Header.Get("Content-Type"))
	}
	line, err := bufio.NewReader(res.Body).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, ": ") {
		t.Fatalf("first line %q, %v; want a heartbeat comment", line, err)
	}
}

// A client stream is read from an NDJSON body, one request message per
// line, with path variables and query parameters applied to each.
func TestClientStreamNDJSON(t *testing.T) {
	f := startFixture(t, "")
	body := `{"parent":"shelves/2","book":{"title":"One"}}` + "\n\n" + `{"parent":"shelves/2","book":{"title":"Two"}}` + "\n"
	r := f.do(t, "POST", "/v1/books:batchCreate", body, "Content-Type", "application/x-ndjson")
	books, _ := jsonOf(t, r.Body)["books"].([]any)
	if r.Status != 200 || len(books) != 2 {
		t.Fatalf("batch create: %d %s", r.Status, r.Body)
	}
	r = f.do(t, "POST", "/v1/books:batchCreate", `{"parent":"shelves/2","book":{"title":"ok"}}`+"\n{broken\n", "Content-Type", "application/x-ndjson")
	if r.Status < 400 {
		t.Fatalf("a malformed line must fail the call: %d %s", r.Status, r.Body)
	}
}

// A bidirectional stream runs over a WebSocket: a text message per
// request and per response; the call's error comes as a last message
// before the close.
func TestBidiWebSocket(t *testing.T) {
	f := startFixture(t, "")
	url := "ws" + strings.TrimPrefix(f.URL, "http") + "/v1/chat"
	ws, res, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		t.Fatalf("dial: %v (%v)", err, res)
	}
	defer ws.Close()
	_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for _, text := range []string{"hello", "again"} {
		if err := ws.WriteMessage(websocket.TextMessage, []byte(`{"user":"me","text":"`+text+`"}`)); err != nil {
			t.Fatal(err)
		}
		_, msg, err := ws.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		if got := jsonOf(t, string(msg))["text"]; got != "echo: "+text {
			t.Fatalf("reply %s", msg)
		}
	}
	// An empty text makes the service fail the call.
	_ = ws.WriteMessage(websocket.TextMessage, []byte(`{"user":"me"}`))
	_, msg, err := ws.ReadMessage()
	if err != nil || !strings.Contains(string(msg), `"error"`) || !strings.Contains(string(msg), "empty text") {
		t.Fatalf("error record: %q %v", msg, err)
	}
	_, _, err = ws.ReadMessage()
	var ce *websocket.CloseError
	if !asCloseError(err, &ce) || ce.Code != websocket.CloseInternalServerErr {
		t.Fatalf("close: %v", err)
	}
}

func asCloseError(err error, ce **websocket.CloseError) bool {
	c, ok := err.(*websocket.CloseError)
	if ok {
		*ce = c
	}
	return ok
}

// Response metadata comes back as prefixed headers, trailers too, and
// allowed request headers and prefixed ones reach the service.
func TestMetadata(t *testing.T) {
	f := startFixture(t, "")
	r := f.do(t, "POST", "/v1/echo", `{"stringField":"x"}`, "Grpc-Metadata-X-Echo-Color", "blue", "X-Echo-Secret", "not forwarded")
	if r.Status != 200 {
		t.Fatalf("%d %s", r.Status, r.Body)
	}
	if got := r.Header.Get("Grpc-Metadata-X-Echo-Color"); got != "blue" {
		t.Errorf("echoed metadata header = %q (headers %v)", got, r.Header)
	}
	if r.Header.Get("Grpc-Metadata-X-Echo-Secret") != "" {
		t.Error("a header neither allowed nor prefixed became metadata")
	}
	if got := r.Header.Get("Grpc-Metadata-Trailer-X-Echo-Trailer"); got != "done" {
		t.Errorf("trailer metadata = %q (headers %v)", got, r.Header)
	}
}

// Authorization passes as metadata by default; a stream's trailing
// metadata comes back as HTTP trailers.
func TestStreamMetadata(t *testing.T) {
	f := startFixtureWith(t, "", map[string]grpcsvc.Handler{
		"/bouncer.library.v1.Library/StreamBooks": func(c *grpcsvc.Call) error {
			if _, err := c.Recv(); err != nil {
				return err
			}
			c.SetTrailer(metadata.Pairs("x-auth-seen", strings.Join(c.Metadata().Get("authorization"), ",")))
			book := dynamicpb.NewMessage(c.Method.Output())
			book.Set(c.Method.Output().Fields().ByName("title"), protoreflect.ValueOfString("t"))
			return c.Send(book)
		},
	})
	req, _ := http.NewRequest("GET", f.URL+streamBooks, nil)
	req.Header.Set("Authorization", "Bearer abc")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if _, err := io.ReadAll(res.Body); err != nil {
		t.Fatal(err)
	}
	if got := res.Trailer.Get("Grpc-Metadata-Trailer-X-Auth-Seen"); got != "Bearer abc" {
		t.Fatalf("trailer = %q (trailers %v)", got, res.Trailer)
	}
}

// The call carries the forwarding headers as metadata, those listed in
// forwarded_headers only; one a client forges is never passed on.
func TestForwardedMetadata(t *testing.T) {
	for _, tc := range []struct {
		name, extra, wantXFF, wantFwd string
	}{
		{"default", "", "127.0.0.1", "for=127.0.0.1"},
		{"x-forwarded-for only", "forwarded_headers: [x-forwarded-for]", "127.0.0.1", ""},
		{"none", "forwarded_headers: []", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := startFixtureWith(t, tc.extra, map[string]grpcsvc.Handler{
				"/bouncer.library.v1.Library/CountBooks": func(c *grpcsvc.Call) error {
					if _, err := c.Recv(); err != nil {
						return err
					}
					md := c.Metadata()
					fwd, _, _ := strings.Cut(strings.Join(md.Get("forwarded"), ","), ";")
					c.SetHeader(metadata.Pairs("x-xff-seen", strings.Join(md.Get("x-forwarded-for"), ","), "x-fwd-seen", fwd))
					return c.Send(dynamicpb.NewMessage(c.Method.Output()))
				},
			})
			r := f.do(t, "POST", "/bouncer.library.v1.Library/CountBooks", "{}", "X-Forwarded-For", "203.0.113.7", "Forwarded", "for=203.0.113.7")
			if r.Status != http.StatusOK {
				t.Fatalf("status %d: %s", r.Status, r.Body)
			}
			if got := r.Header.Get("Grpc-Metadata-X-Xff-Seen"); got != tc.wantXFF {
				t.Errorf("x-forwarded-for at the service = %q, want %q", got, tc.wantXFF)
			}
			if got := r.Header.Get("Grpc-Metadata-X-Fwd-Seen"); got != tc.wantFwd {
				t.Errorf("forwarded at the service = %q, want %q", got, tc.wantFwd)
			}
		})
	}
}

// Names Bouncer sets or clears for trust never come from the metadata
// prefix, nor does an allowed header: the upstream sees only the real one.
func TestMetadataPrefixCannotSpoof(t *testing.T) {
	f := startFixtureWith(t, "", map[string]grpcsvc.Handler{
		"/bouncer.library.v1.Library/CountBooks": func(c *grpcsvc.Call) error {
			if _, err := c.Recv(); err != nil {
				return err
			}
			md := c.Metadata()
			seen := []string{}
			for _, k := range []string{"x-forwarded-client-cert", "x-real-ip", "forwarded", "authorization", "x-custom"} {
				seen = append(seen, k+"="+strings.Join(md.Get(k), ","))
			}
			c.SetHeader(metadata.Pairs("x-seen", strings.Join(seen, ";")))
			return c.Send(dynamicpb.NewMessage(c.Method.Output()))
		},
	})
	r := f.do(t, "POST", "/bouncer.library.v1.Library/CountBooks", "{}",
		"Grpc-Metadata-X-Forwarded-Client-Cert", "By=spiffe://evil;Hash=00",
		"Grpc-Metadata-X-Real-Ip", "203.0.113.9",
		"Grpc-Metadata-Forwarded", "for=203.0.113.9",
		"Grpc-Metadata-Authorization", "Bearer forged",
		"Grpc-Metadata-X-Custom", "ok")
	got := r.Header.Get("Grpc-Metadata-X-Seen")
	if strings.Contains(got, "203.0.113.9") {
		t.Fatalf("a forged forwarding value reached the service: %s", got)
	}
	got, _, _ = strings.Cut(got, "forwarded=for=127.0.0.1;")
	if want := "x-forwarded-client-cert=;x-real-ip=;"; r.Status != 200 || got != want || !strings.HasSuffix(r.Header.Get("Grpc-Metadata-X-Seen"), ";authorization=;x-custom=ok") {
		t.Fatalf("%d: metadata at the service: %s", r.Status, r.Header.Get("Grpc-Metadata-X-Seen"))
	}
}
