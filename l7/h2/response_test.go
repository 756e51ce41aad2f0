package h2

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// responseCase is a handler and the response it must produce.
type responseCase struct {
	name    string
	method  string
	handler func(w http.ResponseWriter) error
	status  string
	frames  string
	body    string
	header  map[string]string // "": absent
}

// responseCases are the cases of TestResponseRules.
func responseCases() []responseCase {
	big := strings.Repeat("z", 20000)
	return []responseCase{
		{"whole", "GET", writeStrings("hello"), "200", "headers 200,data", "hello",
			map[string]string{"Content-Length": "5", "Content-Type": "text/plain; charset=utf-8"}},
		{"empty", "GET", writeStrings(), "200", "headers 200", "",
			map[string]string{"Content-Length": "0", "Content-Type": ""}},
		{"sniffed html", "GET", writeStrings("<html><body>hi"), "200", "headers 200,data", "<html><body>hi",
			map[string]string{"Content-Type": "text/html; charset=utf-8"}},
		{"content-type kept", "GET", func(w http.ResponseWriter) error {
			w.Header().Set("Content-Type", "application/json")
			return writeStrings("<html>")(w)
		}, "200", "headers 200,data", "<html>", map[string]string{"Content-Type": "application/json"}},
		{"nil content-type suppresses sniffing", "GET", func(w http.ResponseWriter) error {
			w.Header()["Content-Type"] = nil
			return writeStrings("<html>")(w)
		}, "200", "headers 200,data", "<html>", map[string]string{"Content-Type": "", "Content-Length": "6"}},
		{"flushed has no length", "GET", func(w http.ResponseWriter) error {
			_ = writeStrings("a")(w)
			w.(http.Flusher).Flush()
			return writeStrings("b")(w)
		}, "200", "headers 200,data,data", "ab", map[string]string{"Content-Length": ""}},
		{"handler's length kept", "GET", func(w http.ResponseWriter) error {
			w.Header().Set("Content-Length", "3")
			w.(http.Flusher).Flush()
			return writeStrings("abc")(w)
		}, "200", "headers 200,data", "abc", map[string]string{"Content-Length": "3"}},
		{"big write streams", "GET", writeStrings(big), "200", "headers 200,data,data,data", big,
			map[string]string{"Content-Length": ""}},
		{"204", "GET", writeStatus(204, "no"), "204", "headers 204", "",
			map[string]string{"Content-Length": "", "Content-Type": ""}},
		{"304", "GET", writeStatus(304, "no"), "304", "headers 304", "",
			map[string]string{"Content-Length": "", "Content-Type": ""}},
		{"head", "HEAD", writeStrings("hello"), "200", "headers 200", "", map[string]string{"Content-Type": ""}},
		{"connection-specific fields dropped", "GET", func(w http.ResponseWriter) error {
			for _, k := range []string{"Connection", "Keep-Alive", "Transfer-Encoding", "Upgrade", "Proxy-Connection"} {
				w.Header().Set(k, "x")
			}
			w.Header().Set("X-Kept", "yes")
			return nil
		}, "200", "headers 200", "", map[string]string{"Connection": "", "Keep-Alive": "", "Transfer-Encoding": "",
			"Upgrade": "", "Proxy-Connection": "", "X-Kept": "yes"}},
	}
}

// TestResponseRules checks the frames and fields of responses: bodies
// where they are not allowed, Content-Length on a response written whole,
// Content-Type sniffing, Date, and fields HTTP/2 does not carry.
func TestResponseRules(t *testing.T) {
	for _, tc := range responseCases() {
		t.Run(tc.name, func(t *testing.T) {
			errs := make(chan error, 1)
			addr := serveLoopback(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				errs <- tc.handler(w)
			})})
			c := dialRaw(t, addr)
			c.request(1, tc.method, "/", true)
			r := c.readStream(1)
			if err := recv(t, errs, "the handler"); err != nil {
				t.Errorf("handler: %v", err)
			}
			if got := strings.Join(r.frames, ","); r.status != tc.status || got != tc.frames {
				t.Errorf("got status %s frames %s, want %s %s", r.status, got, tc.status, tc.frames)
			}
			if r.body.String() != tc.body {
				t.Errorf("body %.40q, want %.40q", r.body.String(), tc.body)
			}
			for k, want := range tc.header {
				if got := strings.Join(r.header[k], ","); got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
			if d, err := http.ParseTime(r.header.Get("Date")); err != nil || time.Since(d) > time.Minute {
				t.Errorf("Date %q: %v", r.header.Get("Date"), err)
			}
		})
	}
}

func writeStrings(ss ...string) func(w http.ResponseWriter) error {
	return func(w http.ResponseWriter) error {
		for _, s := range ss {
			if n, err := w.Write([]byte(s)); err != nil || n != len(s) {
				return fmt.Errorf("write: %d, %v", n, err)
			}
		}
		return nil
	}
}

// writeStatus writes code then tries a body, which must be refused.
func writeStatus(code int, body string) func(w http.ResponseWriter) error {
	return func(w http.ResponseWriter) error {
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Del("Content-Type")
		w.WriteHeader(code)
		if _, err := w.Write([]byte(body)); !errors.Is(err, http.ErrBodyNotAllowed) {
			return fmt.Errorf("write after %d: %v, want ErrBodyNotAllowed", code, err)
		}
		return nil
	}
}

// TestResponseThroughTransport reads responses with x/net's client: GET,
// POST and HEAD round trips, and the length it sees.
func TestResponseThroughTransport(t *testing.T) {
	addr := serveLoopback(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Method", r.Method)
		_, _ = fmt.Fprintf(w, "%s %s", r.Method, r.URL.Path)
	})})
	client, _ := h2cClient(t)
	for _, tc := range []struct{ method, body string }{
		{"GET", "GET /x"}, {"POST", "POST /x"}, {"HEAD", ""},
	} {
		t.Run(tc.method, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, "http://"+addr+"/x", strings.NewReader("payload"))
			if tc.method != "POST" {
				req.Body = nil
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err != nil || string(body) != tc.body || resp.Header.Get("X-Method") != tc.method || resp.ProtoMajor != 2 {
				t.Errorf("got %q %v %q proto %d", body, err, resp.Header.Get("X-Method"), resp.ProtoMajor)
			}
			if tc.method == "GET" && resp.ContentLength != int64(len(tc.body)) {
				t.Errorf("ContentLength %d", resp.ContentLength)
			}
		})
	}
}
