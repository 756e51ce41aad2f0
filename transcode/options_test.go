package transcode_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/bouncer-proxy/bouncer/transcode/grpcsvc"
)

// Rules declared in the config bind methods without annotations, add to
// annotated ones, or replace them (override); a success status may be set
// per binding.
func TestConfigRules(t *testing.T) {
	f := startFixture(t, `
rules:
  - selector: bouncer.library.v1.Library.CountBooks
    bindings:
      - get: /v1/{parent=shelves/*}/count
      - post: /v1/count
        body: "*"
        success_status: 202
  - selector: bouncer.library.v1.Library.ListShelves
    override: true
    bindings:
      - get: /v2/shelves
`)
	r := f.do(t, "GET", "/v1/shelves/1/count", "")
	if r.Status != 200 || jsonOf(t, r.Body)["count"] != "2" {
		t.Fatalf("configured GET: %d %s", r.Status, r.Body)
	}
	if r := f.do(t, "POST", "/v1/count", `{"parent":"shelves/2"}`); r.Status != 202 || jsonOf(t, r.Body)["count"] != "1" {
		t.Fatalf("configured POST with 202: %d %s", r.Status, r.Body)
	}
	if r := f.do(t, "GET", "/v2/shelves", ""); r.Status != 200 || !strings.Contains(r.Body, "shelves/1") {
		t.Fatalf("override binding: %d %s", r.Status, r.Body)
	}
	if r := f.do(t, "GET", "/v1/shelves", ""); r.Status != 405 || r.Header.Get("Allow") != "POST" {
		t.Fatalf("the overridden annotation is still served (CreateShelf keeps POST): %d %s", r.Status, r.Body)
	}
	// annotations: false leaves configured rules and the automatic POST.
	off := startFixture(t, "annotations: false")
	if r := off.do(t, "GET", "/v1/shelves", ""); r.Status != 404 {
		t.Fatalf("annotations off: %d %s", r.Status, r.Body)
	}
	if r := off.do(t, "POST", "/bouncer.library.v1.Library/ListShelves", "{}"); r.Status != 200 {
		t.Fatalf("auto POST with annotations off: %d %s", r.Status, r.Body)
	}
}

// A binding that cannot be served (a field that does not exist, a rule
// for an unknown method) is reported by Warm and left out; the rest serve.
func TestBadRulesReported(t *testing.T) {
	errs := warmErrors(t, `
rules:
  - selector: bouncer.library.v1.Library.GetShelf
    bindings: [{get: "/v1/x/{nope}"}]
  - selector: bouncer.library.v1.Library.NoSuch
    bindings: [{get: "/v1/y"}]
`)
	joined := ""
	for _, e := range errs {
		joined += e.Error() + "\n"
	}
	if len(errs) != 2 || !strings.Contains(joined, "nope") || !strings.Contains(joined, "NoSuch") {
		t.Fatalf("problems reported:\n%s", joined)
	}
}

// JSON output options: zero values, proto names, enums as numbers.
func TestJSONOptions(t *testing.T) {
	f := startFixture(t, "json: {emit_defaults: true, use_proto_names: true, enums_as_ints: true}")
	r := f.do(t, "POST", "/v1/echo", `{"genre":"POETRY","label":"x"}`)
	b := jsonOf(t, r.Body)
	if r.Status != 200 || b["genre"] != float64(2) || b["display_name"] != "x" || b["int64_field"] != "0" || b["bool_field"] != false {
		t.Fatalf("options not applied: %d %s", r.Status, r.Body)
	}
}

// A body over the route's limit is a 413 and never reaches the service.
func TestBodyLimit(t *testing.T) {
	f := startFixture(t, "max_request_body_bytes: 64")
	r := f.do(t, "POST", "/v1/echo", `{"stringField":"`+strings.Repeat("x", 100)+`"}`)
	if st := statusOf(t, r); r.Status != 413 || st.Code != 3 {
		t.Fatalf("big body: %d %s", r.Status, r.Body)
	}
}

// The call's deadline is the route's timeout, shortened by a client's
// Grpc-Timeout; a service that runs out of it is a 504.
func TestDeadline(t *testing.T) {
	seen := make(chan time.Duration, 4)
	f := startFixtureWith(t, "timeout: 5s", map[string]grpcsvc.Handler{
		"/bouncer.library.v1.Library/CountBooks": func(c *grpcsvc.Call) error {
			if _, err := c.Recv(); err != nil {
				return err
			}
			dl, _ := c.Ctx.Deadline()
			seen <- time.Until(dl)
			if c.Metadata().Get("x-slow") != nil {
				<-c.Ctx.Done()
				return status.Error(codes.DeadlineExceeded, "too slow")
			}
			out := dynamicpb.NewMessage(c.Method.Output())
			out.Set(c.Method.Output().Fields().ByName("count"), protoreflect.ValueOfInt64(1))
			return c.Send(out)
		},
	})
	if r := f.do(t, "POST", "/bouncer.library.v1.Library/CountBooks", "{}"); r.Status != 200 {
		t.Fatalf("%d %s", r.Status, r.Body)
	}
	if d := <-seen; d <= 4*time.Second || d > 5*time.Second {
		t.Fatalf("deadline seen by the service: %v, want about 5s", d)
	}
	r := f.do(t, "POST", "/bouncer.library.v1.Library/CountBooks", "{}", "Grpc-Timeout", "200m", "Grpc-Metadata-X-Slow", "1")
	if d := <-seen; d > 200*time.Millisecond {
		t.Fatalf("client Grpc-Timeout not applied: %v", d)
	}
	if r.Status != 504 {
		t.Fatalf("slow call: %d %s", r.Status, r.Body)
	}
}

// A client's Grpc-Timeout never removes the route's timeout: zero has
// already passed (504 without a call), and one too large to represent
// shortens nothing.
func TestGRPCTimeoutNeverLengthens(t *testing.T) {
	seen := make(chan time.Duration, 4)
	f := startFixtureWith(t, "timeout: 5s", map[string]grpcsvc.Handler{
		"/bouncer.library.v1.Library/CountBooks": func(c *grpcsvc.Call) error {
			if _, err := c.Recv(); err != nil {
				return err
			}
			dl, _ := c.Ctx.Deadline()
			seen <- time.Until(dl)
			return c.Send(dynamicpb.NewMessage(c.Method.Output()))
		},
	})
	for _, v := range []string{"0S", "0m"} {
		r := f.do(t, "POST", "/bouncer.library.v1.Library/CountBooks", "{}", "Grpc-Timeout", v)
		if st := statusOf(t, r); r.Status != 504 || st.Code != int(codes.DeadlineExceeded) {
			t.Fatalf("Grpc-Timeout %s: %d %s", v, r.Status, r.Body)
		}
	}
	if r := f.do(t, "GET", "/v1/shelves/1:watch", "", "Grpc-Timeout", "0n"); r.Status != 504 {
		t.Fatalf("a stream with Grpc-Timeout 0n: %d %s", r.Status, r.Body)
	}
	select {
	case d := <-seen:
		t.Fatalf("a call with a passed deadline reached the service (deadline %v)", d)
	default:
	}
	if r := f.do(t, "POST", "/bouncer.library.v1.Library/CountBooks", "{}", "Grpc-Timeout", "99999999H"); r.Status != 200 {
		t.Fatalf("huge Grpc-Timeout: %d %s", r.Status, r.Body)
	}
	if d := <-seen; d <= 4*time.Second || d > 5*time.Second {
		t.Fatalf("deadline seen by the service with a huge Grpc-Timeout: %v, want the route's 5s", d)
	}
}

// An upstream that answers plain HTTP instead of gRPC is mapped the way
// gRPC clients map it (503 -> UNAVAILABLE, 404 -> UNIMPLEMENTED, ...),
// and its body never reaches the client.
func TestPlainHTTPUpstream(t *testing.T) {
	var status int
	plain := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(status)
		_, _ = io.WriteString(w, "internal stack trace at line 42")
	}))
	plain.Config.Protocols = new(http.Protocols)
	plain.Config.Protocols.SetUnencryptedHTTP2(true)
	plain.Start()
	defer plain.Close()
	routeUpstream = strings.TrimPrefix(plain.URL, "http://")
	defer func() { routeUpstream = "" }()
	f := startFixture(t, "")
	for up, want := range map[int][2]int{503: {503, 14}, 404: {501, 12}, 401: {401, 16}, 500: {500, 2}} {
		status = up
		r := f.do(t, "GET", "/v1/shelves", "")
		st := statusOf(t, r)
		if r.Status != want[0] || st.Code != want[1] || strings.Contains(r.Body, "stack trace") {
			t.Errorf("upstream %d: got %d %s, want %d code %d", up, r.Status, r.Body, want[0], want[1])
		}
	}
}

// A client that goes away cancels the call upstream.
func TestClientGoneCancelsCall(t *testing.T) {
	started, canceled := make(chan struct{}), make(chan struct{})
	f := startFixtureWith(t, "", map[string]grpcsvc.Handler{
		"/bouncer.library.v1.Library/Watch": func(c *grpcsvc.Call) error {
			if _, err := c.Recv(); err != nil {
				return err
			}
			close(started)
			<-c.Ctx.Done()
			close(canceled)
			return c.Ctx.Err()
		},
	})
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", f.URL+"/v1/shelves/1:watch", nil)
	go func() {
		if res, err := http.DefaultClient.Do(req); err == nil {
			res.Body.Close()
		}
	}()
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("the call never started")
	}
	cancel()
	select {
	case <-canceled:
	case <-time.After(10 * time.Second):
		t.Fatal("the service's call was not canceled when the client left")
	}
}

// With validate on, the protovalidate rules found in the reflected
// descriptors are checked before the call: a violation is a 400 listing
// the fields, and the service never sees the request.
func TestValidateRules(t *testing.T) {
	f := startFixture(t, "validate: true")
	r := f.do(t, "GET", "/v1/shelves/1/books?pageSize=5000", "")
	st := statusOf(t, r)
	br := st.detail("google.rpc.BadRequest")
	if r.Status != 400 || st.Code != 3 || br == nil || !strings.Contains(r.Body, `"page_size"`) || !strings.Contains(r.Body, "int32.gte_lte") {
		t.Fatalf("page_size rule: %d %s", r.Status, r.Body)
	}
	r = f.do(t, "POST", "/v1/shelves/1/books?bookId=Not%20Valid", `{"title":"x","author":"y"}`)
	if r.Status != 400 || !strings.Contains(r.Body, "book_id") {
		t.Fatalf("book_id rule: %d %s", r.Status, r.Body)
	}
	if r := f.do(t, "GET", "/v1/shelves/1/books?pageSize=5", ""); r.Status != 200 {
		t.Fatalf("valid request: %d %s", r.Status, r.Body)
	}
	off := startFixture(t, "")
	if r := off.do(t, "GET", "/v1/shelves/1/books?pageSize=5000", ""); r.Status != 200 {
		t.Fatalf("validation off: %d %s", r.Status, r.Body)
	}
}

// The route serves an OpenAPI 3.1 document of exactly its bindings, and a
// self-contained page that renders it.
func TestOpenAPIDocument(t *testing.T) {
	f := startFixture(t, "openapi: {path: /v1/openapi.json, docs_path: /v1/docs, title: Library}")
	r := f.do(t, "GET", "/v1/openapi.json", "")
	doc := jsonOf(t, r.Body)
	if r.Status != 200 || doc["openapi"] != "3.1.0" || r.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("document: %d %.300s", r.Status, r.Body)
	}
	paths, _ := doc["paths"].(map[string]any)
	for _, p := range []string{"/v1/shelves", "/v1/{name}", "/v1/echo", "/bouncer.library.v1.Library/CountBooks"} {
		if paths[p] == nil {
			t.Errorf("path %s missing from the document", p)
		}
	}
	if info, _ := doc["info"].(map[string]any); info["title"] != "Library" {
		t.Errorf("info %v", info)
	}
	r = f.do(t, "GET", "/v1/docs", "")
	if r.Status != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") || !strings.Contains(r.Body, "/v1/openapi.json") || r.Header.Get("Content-Security-Policy") == "" {
		t.Fatalf("docs page: %d %q", r.Status, r.Header.Get("Content-Type"))
	}
	if r := f.do(t, "POST", "/v1/openapi.json", "{}"); r.Status != 405 {
		t.Fatalf("POST to the document: %d", r.Status)
	}
}
