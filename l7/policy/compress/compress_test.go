package compress

import (
	"bufio"
	stdgzip "compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/zstd"
)

// client sends Accept-Encoding as the test says and never decodes.
var client = &http.Client{Transport: &http.Transport{DisableCompression: true}}

// text is a compressible body of n bytes.
func text(n int) string {
	var b strings.Builder
	for i := 0; b.Len() < n; i++ {
		b.WriteString(`{"id":` + strconv.Itoa(i) + `,"name":"item","tags":["a","b"]},`)
	}
	return b.String()[:n]
}

// decoder returns a reader of the decoded body for a Content-Encoding.
func decoder(t *testing.T, coding string, r io.Reader) io.Reader {
	t.Helper()
	switch coding {
	case Gzip:
		zr, err := stdgzip.NewReader(r)
		if err != nil {
			t.Fatal(err)
		}
		return zr
	case Brotli:
		return brotli.NewReader(r)
	case Zstd:
		zr, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(zr.Close)
		return zr
	}
	return r
}

func get(t *testing.T, url, method string, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, body
}

func TestRoundTrip(t *testing.T) {
	c, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	body := text(20000)
	for _, coding := range []string{Zstd, Brotli, Gzip} {
		for _, withLength := range []bool{true, false} {
			name := coding + "/chunked"
			if withLength {
				name = coding + "/content-length"
			}
			t.Run(name, func(t *testing.T) {
				srv := httptest.NewServer(c.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Content-Type", "application/json")
					w.Header().Set("ETag", `"v1"`)
					w.Header().Set("Accept-Ranges", "bytes")
					if withLength {
						w.Header().Set("Content-Length", strconv.Itoa(len(body)))
					}
					for i := 0; i < len(body); i += 700 { // many small writes
						_, _ = io.WriteString(w, body[i:min(i+700, len(body))])
					}
				})))
				defer srv.Close()
				res, raw := get(t, srv.URL, "GET", map[string]string{"Accept-Encoding": coding + ", identity;q=0.5"})
				if got := res.Header.Get("Content-Encoding"); got != coding {
					t.Fatalf("Content-Encoding %q", got)
				}
				// net/http may count a short compressed body itself; the
				// identity length must not survive.
				if (res.ContentLength != -1 && res.ContentLength != int64(len(raw))) || res.Header.Get("Accept-Ranges") != "" {
					t.Errorf("Content-Length %d, Accept-Ranges %q", res.ContentLength, res.Header.Get("Accept-Ranges"))
				}
				if res.Header.Get("Vary") != "Accept-Encoding" || res.Header.Get("ETag") != `W/"v1"` {
					t.Errorf("Vary %q ETag %q", res.Header.Get("Vary"), res.Header.Get("ETag"))
				}
				if len(raw) >= len(body)/2 {
					t.Errorf("compressed %d bytes to %d", len(body), len(raw))
				}
				plain, err := io.ReadAll(decoder(t, coding, strings.NewReader(string(raw))))
				if err != nil || string(plain) != body {
					t.Fatalf("decoded %d bytes (%v), want the %d sent", len(plain), err, len(body))
				}
			})
		}
	}
}

// untouched is a response the compressor must pass as is.
type untouched struct {
	name     string
	method   string
	reqHdr   map[string]string
	respHdr  map[string]string
	status   int
	body     string
	wantVary string
}

func TestUntouched(t *testing.T) {
	big := text(5000)
	tests := []untouched{
		{name: "small with length", respHdr: map[string]string{"Content-Type": "text/plain", "Content-Length": "10"}, body: big[:10], wantVary: "Accept-Encoding"},
		{name: "small chunked", respHdr: map[string]string{"Content-Type": "text/plain"}, body: big[:1023], wantVary: "Accept-Encoding"},
		{name: "wrong type", respHdr: map[string]string{"Content-Type": "image/png"}, body: big},
		{name: "already encoded", respHdr: map[string]string{"Content-Type": "text/plain", "Content-Encoding": "gzip"}, body: big},
		{name: "no-transform", respHdr: map[string]string{"Content-Type": "text/plain", "Cache-Control": "public, No-Transform"}, body: big},
		{name: "204", respHdr: map[string]string{"Content-Type": "text/plain"}, status: 204},
		{name: "304", respHdr: map[string]string{"Content-Type": "text/plain", "ETag": `"x"`}, status: 304},
		{name: "head", method: "HEAD", respHdr: map[string]string{"Content-Type": "text/plain"}, body: big},
		{name: "range", reqHdr: map[string]string{"Range": "bytes=0-9"}, respHdr: map[string]string{"Content-Type": "text/plain"}, body: big},
		{name: "identity only", reqHdr: map[string]string{"Accept-Encoding": "identity"}, respHdr: map[string]string{"Content-Type": "text/plain"}, body: big, wantVary: "Accept-Encoding"},
		{name: "no accept-encoding", reqHdr: map[string]string{"Accept-Encoding": ""}, respHdr: map[string]string{"Content-Type": "text/css"}, body: big, wantVary: "Accept-Encoding"},
		{name: "sniffed binary", respHdr: map[string]string{}, body: "\x89PNG\r\n\x1a\n" + big},
		{name: "grpc-web-text not by default", respHdr: map[string]string{"Content-Type": "application/grpc-web-text"}, body: big},
	}
	c, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(c.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tt.respHdr {
					w.Header().Set(k, v)
				}
				w.WriteHeader(cmp(tt.status, 200))
				_, _ = io.WriteString(w, tt.body)
			})))
			defer srv.Close()
			hdr := map[string]string{"Accept-Encoding": "gzip, br, zstd"}
			for k, v := range tt.reqHdr {
				hdr[k] = v
			}
			res, raw := get(t, srv.URL, cmp(tt.method, "GET"), hdr)
			if res.Header.Get("Content-Encoding") != tt.respHdr["Content-Encoding"] {
				t.Errorf("Content-Encoding %q", res.Header.Get("Content-Encoding"))
			}
			if tt.method != "HEAD" && string(raw) != tt.body {
				t.Errorf("body changed: %d bytes, want %d", len(raw), len(tt.body))
			}
			if got := strings.Join(res.Header.Values("Vary"), ", "); got != tt.wantVary {
				t.Errorf("Vary %q, want %q", got, tt.wantVary)
			}
			if tt.name == "small chunked" && res.ContentLength != int64(len(tt.body)) {
				t.Errorf("Content-Length %d, want %d for a buffered small body", res.ContentLength, len(tt.body))
			}
		})
	}
}

func cmp[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

func TestSniffedText(t *testing.T) {
	c, err := New(Options{Encodings: []string{Gzip}})
	if err != nil {
		t.Fatal(err)
	}
	page := "<!DOCTYPE html><html><body>" + text(4000) + "</body></html>"
	srv := httptest.NewServer(c.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Vary", "Origin")
		_, _ = io.WriteString(w, page)
	})))
	defer srv.Close()
	res, raw := get(t, srv.URL, "GET", map[string]string{"Accept-Encoding": "gzip"})
	if res.Header.Get("Content-Encoding") != Gzip || res.Header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("headers %v", res.Header)
	}
	if got := strings.Join(res.Header.Values("Vary"), ", "); got != "Origin, Accept-Encoding" {
		t.Errorf("Vary %q", got)
	}
	plain, _ := io.ReadAll(decoder(t, Gzip, strings.NewReader(string(raw))))
	if string(plain) != page {
		t.Fatal("round trip differs")
	}
}

// TestStreaming checks server-sent events stay streaming: the first event
// is decoded by the client while the handler still waits to send the next.
func TestStreaming(t *testing.T) {
	c, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, coding := range []string{Zstd, Brotli, Gzip} {
		t.Run(coding, func(t *testing.T) {
			release := make(chan struct{})
			srv := httptest.NewServer(c.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/event-stream")
				_, _ = io.WriteString(w, "data: one\n\n")
				w.(http.Flusher).Flush()
				<-release
				_, _ = io.WriteString(w, "data: two\n\n")
			})))
			defer srv.Close()
			req, _ := http.NewRequest("GET", srv.URL, nil)
			req.Header.Set("Accept-Encoding", coding)
			res, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			if res.Header.Get("Content-Encoding") != coding {
				t.Fatalf("Content-Encoding %q", res.Header.Get("Content-Encoding"))
			}
			events := bufio.NewReader(decoder(t, coding, res.Body))
			line, err := events.ReadString('\n')
			if err != nil || line != "data: one\n" {
				t.Fatalf("first event %q %v", line, err)
			}
			close(release)
			rest, err := io.ReadAll(events)
			if err != nil || string(rest) != "\ndata: two\n\n" {
				t.Fatalf("rest %q %v", rest, err)
			}
		})
	}
}

func TestVaryNotDuplicated(t *testing.T) {
	c, err := New(Options{MinBytes: -1})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(c.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("Vary", "accept-encoding, Origin")
		_, _ = io.WriteString(w, "tiny")
	})))
	defer srv.Close()
	res, raw := get(t, srv.URL, "GET", map[string]string{"Accept-Encoding": "br"})
	if res.Header.Get("Content-Encoding") != Brotli {
		t.Fatalf("MinBytes -1 must compress a 4-byte body: %v", res.Header)
	}
	if got := res.Header.Values("Vary"); len(got) != 1 {
		t.Errorf("Vary %q", got)
	}
	if plain, _ := io.ReadAll(decoder(t, Brotli, strings.NewReader(string(raw)))); string(plain) != "tiny" {
		t.Errorf("decoded %q", plain)
	}
}

func TestNewErrors(t *testing.T) {
	tests := []struct {
		opts Options
		want string
	}{
		{Options{Encodings: []string{"deflate"}}, `unknown encoding "deflate"`},
		{Options{Encodings: []string{Gzip, Gzip}}, "listed twice"},
		{Options{Levels: map[string]int{Gzip: 10}}, "gzip level 10 out of 1..9"},
		{Options{Levels: map[string]int{Brotli: 12}}, "br level 12"},
		{Options{Levels: map[string]int{Zstd: 0}}, "zstd level 0"},
		{Options{Encodings: []string{Gzip}, Levels: map[string]int{Zstd: 3}}, "not enabled"},
		{Options{ContentTypes: []string{"text"}}, "not a media type"},
		{Options{ContentTypes: []string{"*/*"}}, "not a media type"},
		{Options{ContentTypes: []string{"text/h*ml"}}, "only type/* and type/*+suffix"},
	}
	for _, tt := range tests {
		_, err := New(tt.opts)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("New(%+v) = %v, want an error containing %q", tt.opts, err, tt.want)
		}
	}
}

func TestContentTypes(t *testing.T) {
	s, err := compileTypes(DefaultContentTypes)
	if err != nil {
		t.Fatal(err)
	}
	for ct, want := range map[string]bool{
		"text/html; charset=utf-8": true, "Text/CSS": true, "application/json": true,
		"application/problem+json": true, "application/atom+xml": true, "image/svg+xml": true,
		"application/+json": false, "image/png": false, "application/octet-stream": false,
		"": false, "application/grpc-web-text": false, "application/javascript;charset=utf-8": true,
	} {
		if got := s.matches(ct); got != want {
			t.Errorf("matches(%q) = %v, want %v", ct, got, want)
		}
	}
}
