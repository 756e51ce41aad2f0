package h1

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
)

type framingCase struct {
	name    string
	method  string
	handler http.HandlerFunc
	status  int
	body    string
	clen    int64
	te      []string
	header  map[string]string // "" value: must be absent
	trailer map[string]string
}

var big = strings.Repeat("x", 10<<10)

var framingCases = []framingCase{
	{name: "small body gets content-length", method: "GET",
		handler: func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "hello") },
		status:  200, body: "hello", clen: 5, header: map[string]string{"Content-Type": ""}},
	{name: "empty body", method: "GET",
		handler: func(w http.ResponseWriter, r *http.Request) {},
		status:  200, body: "", clen: 0},
	{name: "large body is chunked", method: "GET",
		handler: func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, big) },
		status:  200, body: big, clen: -1, te: []string{"chunked"}},
	{name: "declared length is kept", method: "GET",
		handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "10240")
			_, _ = io.WriteString(w, big)
		},
		status: 200, body: big, clen: 10240},
	{name: "overflow fails", method: "GET",
		handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "3")
			_, _ = io.WriteString(w, "abc")
			if _, err := io.WriteString(w, "d"); !errors.Is(err, http.ErrContentLength) {
				panic("overflow accepted")
			}
		},
		status: 200, body: "abc", clen: 3},
	{name: "head keeps length, sends no body", method: "HEAD",
		handler: func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "hello") },
		status:  200, body: "", clen: 5},
	{name: "no content", method: "GET",
		handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "0")
			w.WriteHeader(http.StatusNoContent)
			if _, err := io.WriteString(w, "x"); !errors.Is(err, http.ErrBodyNotAllowed) {
				panic("body accepted")
			}
		},
		status: 204, body: "", clen: -1, header: map[string]string{"Content-Length": ""}},
	{name: "not modified", method: "GET",
		handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Etag", `"1"`)
			w.WriteHeader(http.StatusNotModified)
		},
		status: 304, body: "", header: map[string]string{"Etag": `"1"`}},
	{name: "nil content-type omitted, date and fields sent", method: "GET",
		handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header()["Content-Type"] = nil
			w.Header().Set("X-A", "1\r\nX-Injected: 2")
			_, _ = io.WriteString(w, "<html>")
		},
		status: 200, body: "<html>", clen: 6,
		header: map[string]string{"Content-Type": "", "X-A": "1  X-Injected: 2", "X-Injected": ""}},
	{name: "declared and prefixed trailers", method: "GET",
		handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Trailer", "X-Sum")
			_, _ = io.WriteString(w, "data")
			w.Header().Set("X-Sum", "42")
			w.Header().Set(http.TrailerPrefix+"X-Late", "7")
		},
		status: 200, body: "data", clen: -1, te: []string{"chunked"},
		trailer: map[string]string{"X-Sum": "42", "X-Late": "7"}},
	{name: "flush before end is chunked", method: "GET",
		handler: func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, "a")
			if err := http.NewResponseController(w).Flush(); err != nil {
				panic(err)
			}
			_, _ = io.WriteString(w, "b")
		},
		status: 200, body: "ab", clen: -1, te: []string{"chunked"}},
}

func TestResponseFraming(t *testing.T) {
	for _, tt := range framingCases {
		t.Run(tt.name, func(t *testing.T) {
			_, addr := startServer(t, tt.handler, nil)
			c := dial(t, addr)
			for range 2 { // the connection is kept for a second request
				c.send(tt.method + " / HTTP/1.1\r\nHost: x\r\n\r\n")
				res, body := c.read(tt.method)
				if res.StatusCode != tt.status || body != tt.body {
					t.Fatalf("got %d %q, want %d %q", res.StatusCode, body, tt.status, tt.body)
				}
				if tt.status != 204 && tt.status != 304 && res.ContentLength != tt.clen {
					t.Errorf("content-length %d, want %d", res.ContentLength, tt.clen)
				}
				if strings.Join(res.TransferEncoding, ",") != strings.Join(tt.te, ",") {
					t.Errorf("transfer-encoding %v, want %v", res.TransferEncoding, tt.te)
				}
				if res.Header.Get("Date") == "" {
					t.Error("no Date")
				}
				for k, v := range tt.header {
					if got, ok := res.Header[http.CanonicalHeaderKey(k)]; (v == "") == ok || ok && got[0] != v {
						t.Errorf("header %s = %q, want %q", k, got, v)
					}
				}
				for k, v := range tt.trailer {
					if got := res.Trailer.Get(k); got != v {
						t.Errorf("trailer %s = %q, want %q", k, got, v)
					}
				}
			}
		})
	}
}

func TestInformational(t *testing.T) {
	_, addr := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</a.css>")
		w.WriteHeader(http.StatusEarlyHints)
		w.WriteHeader(http.StatusEarlyHints)
		w.WriteHeader(http.StatusAccepted)
		_, _ = io.WriteString(w, "ok")
	}), nil)
	c := dial(t, addr)
	c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	for range 2 {
		line, err := c.br.ReadString('\n')
		if err != nil || !strings.HasPrefix(line, "HTTP/1.1 103 ") {
			t.Fatalf("got %q, %v", line, err)
		}
		for line != "\r\n" {
			if line, err = c.br.ReadString('\n'); err != nil {
				t.Fatal(err)
			}
		}
	}
	res, body := c.read("GET")
	if res.StatusCode != http.StatusAccepted || body != "ok" {
		t.Fatalf("got %d %q", res.StatusCode, body)
	}
}
