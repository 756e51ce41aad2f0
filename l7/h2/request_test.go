package h2

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/net/http2"
)

// requestView flattens what a handler sees of a request: named fields,
// and "h:Key" for each header key (values joined with "|").
func requestView(r *http.Request) map[string]string {
	body, err := io.ReadAll(r.Body)
	v := map[string]string{
		"method": r.Method, "path": r.URL.Path, "rawpath": r.URL.RawPath, "escaped": r.URL.EscapedPath(),
		"query": r.URL.RawQuery, "host": r.Host, "remote": r.RemoteAddr, "proto": r.Proto,
		"major": strconv.Itoa(r.ProtoMajor), "uri": r.RequestURI, "cl": strconv.FormatInt(r.ContentLength, 10),
		"body": string(body), "tls": strconv.FormatBool(r.TLS != nil),
	}
	if err != nil {
		v["bodyerr"] = err.Error()
	}
	for k, vv := range r.Header {
		v["h:"+k] = strings.Join(vv, "|")
	}
	return v
}

// TestRequestFields checks the request a handler sees for HEADERS (and
// DATA) sent frame by frame.
func TestRequestFields(t *testing.T) {
	seen := make(chan map[string]string, 1)
	addr := serveLoopback(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen <- requestView(r)
	})})
	for _, tc := range []struct {
		name   string
		fields []string // after the pseudo-header fields
		method string
		path   string
		body   string // sent in one DATA frame when not empty
		want   map[string]string
	}{
		{"get", nil, "GET", "/a/b?x=1&y=two", "", map[string]string{
			"method": "GET", "path": "/a/b", "query": "x=1&y=two", "host": "example.test", "proto": "HTTP/2.0",
			"major": "2", "uri": "/a/b?x=1&y=two", "cl": "0", "tls": "false", "rawpath": ""}},
		{"percent-encoded path", nil, "GET", "/a%2Fb/c%20d?q=%41", "", map[string]string{
			"path": "/a/b/c d", "escaped": "/a%2Fb/c%20d", "rawpath": "/a%2Fb/c%20d", "query": "q=%41",
			"uri": "/a%2Fb/c%20d?q=%41"}},
		{"canonical header keys", []string{"x-custom-thing", "1", "accept", "a", "x-custom-thing", "2"}, "GET", "/", "",
			map[string]string{"h:X-Custom-Thing": "1|2", "h:Accept": "a"}},
		{"cookies joined", []string{"cookie", "a=1", "x-other", "o", "cookie", "b=2", "cookie", "c=3"}, "GET", "/", "",
			map[string]string{"h:Cookie": "a=1; b=2; c=3", "h:X-Other": "o"}},
		{"declared length", []string{"content-length", "5"}, "POST", "/p", "hello",
			map[string]string{"method": "POST", "cl": "5", "body": "hello", "h:Content-Length": "5"}},
		{"undeclared length", nil, "POST", "/p", "hello world",
			map[string]string{"cl": "-1", "body": "hello world"}},
		{"options star", nil, "OPTIONS", "*", "", map[string]string{"method": "OPTIONS", "uri": "*"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := dialRaw(t, addr)
			c.request(1, tc.method, tc.path, tc.body == "", tc.fields...)
			if tc.body != "" {
				c.data(1, true, tc.body)
			}
			got := recv(t, seen, "the handler")
			for k, want := range tc.want {
				if got[k] != want {
					t.Errorf("%s = %q, want %q", k, got[k], want)
				}
			}
			if got["remote"] != c.nc.LocalAddr().String() {
				t.Errorf("RemoteAddr = %q, want the client's address %q", got["remote"], c.nc.LocalAddr())
			}
			if r := c.readStream(1); r.status != "200" {
				t.Errorf("status %q", r.status)
			}
		})
	}
}

// TestHostWithoutAuthority takes Host from the host field when the
// request has no :authority.
func TestHostWithoutAuthority(t *testing.T) {
	seen := make(chan map[string]string, 1)
	addr := serveLoopback(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen <- requestView(r)
	})})
	c := dialRaw(t, addr)
	c.headers(1, true, ":method", "GET", ":scheme", "http", ":path", "/", "host", "from-field.test")
	if got := recv(t, seen, "the handler")["host"]; got != "from-field.test" {
		t.Errorf("Host = %q", got)
	}
	c.readStream(1)
}

// TestRequestFieldsThroughTransport checks a request made by x/net's
// client: RemoteAddr, Host and a request body of unknown length.
func TestRequestFieldsThroughTransport(t *testing.T) {
	seen := make(chan map[string]string, 1)
	addr := serveLoopback(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen <- requestView(r)
	})})
	client, _ := h2cClient(t)
	req, _ := http.NewRequest("PUT", "http://"+addr+"/up?z=1", io.MultiReader(strings.NewReader("abc"), strings.NewReader("def")))
	req.Header.Set("Cookie", "a=1; b=2")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	got := recv(t, seen, "the handler")
	want := map[string]string{"method": "PUT", "host": addr, "path": "/up", "query": "z=1", "cl": "-1",
		"body": "abcdef", "proto": "HTTP/2.0", "h:Cookie": "a=1; b=2"}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s = %q, want %q", k, got[k], w)
		}
	}
	if !strings.HasPrefix(got["remote"], "127.0.0.1:") {
		t.Errorf("RemoteAddr = %q", got["remote"])
	}
}

// TestMalformedRequests: requests RFC 9113 8.1-8.3 call malformed are
// reset with PROTOCOL_ERROR and never reach the handler; the connection
// keeps serving.
func TestMalformedRequests(t *testing.T) {
	calls := make(chan string, 16)
	addr := serveLoopback(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls <- r.URL.Path
	})})
	for _, tc := range []struct {
		name string
		kv   []string
	}{
		{"connection", []string{"connection", "keep-alive"}},
		{"keep-alive", []string{"keep-alive", "5"}},
		{"proxy-connection", []string{"proxy-connection", "x"}},
		{"transfer-encoding", []string{"transfer-encoding", "chunked"}},
		{"upgrade", []string{"upgrade", "websocket"}},
		{"te not trailers", []string{"te", "gzip"}},
		{"two content-lengths", []string{"content-length", "1", "content-length", "2"}},
		{"bad content-length", []string{"content-length", "-1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := dialRaw(t, addr)
			c.request(1, "GET", "/bad", true, tc.kv...)
			if r := c.readStream(1); !r.reset || r.rst != http2.ErrCodeProtocol {
				t.Errorf("stream 1 got %v, want RST_STREAM PROTOCOL_ERROR", r.frames)
			}
			c.request(3, "GET", "/good", true, "te", "trailers")
			if r := c.readStream(3); r.status != "200" {
				t.Errorf("the next stream got %v, want 200", r.frames)
			}
			if p := recv(t, calls, "the handler"); p != "/good" {
				t.Errorf("handler saw %q", p)
			}
		})
	}
}
