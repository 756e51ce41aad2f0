package listener

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
)

const hostA = "Host: a\r\n"

func TestStrictRejectsMalformedHeads(t *testing.T) {
	f := startH1(t, Options{MaxHeaderBytes: 1024}, nil)
	cases := []struct {
		name, req string
		status    int
	}{
		{"te and cl", "POST / HTTP/1.1\r\n" + hostA + "Content-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nG", 400},
		{"cl and te", "POST / HTTP/1.1\r\n" + hostA + "Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n", 400},
		{"te chunked gzip", "POST / HTTP/1.1\r\n" + hostA + "Transfer-Encoding: chunked, gzip\r\n\r\n", 400},
		{"te gzip chunked", "POST / HTTP/1.1\r\n" + hostA + "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 400},
		{"te identity", "POST / HTTP/1.1\r\n" + hostA + "Transfer-Encoding: identity\r\n\r\n", 400},
		{"te chunked twice in a list", "POST / HTTP/1.1\r\n" + hostA + "Transfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n", 400},
		{"te chunked on two lines", "POST / HTTP/1.1\r\n" + hostA + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
		{"te with vertical tab", "POST / HTTP/1.1\r\n" + hostA + "Transfer-Encoding:\x0bchunked\r\n\r\n0\r\n\r\n", 400},
		{"te in http/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
		{"differing content-length", "POST / HTTP/1.1\r\n" + hostA + "Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", 400},
		{"content-length list", "POST / HTTP/1.1\r\n" + hostA + "Content-Length: 5, 5\r\n\r\nhello", 400},
		{"content-length sign", "POST / HTTP/1.1\r\n" + hostA + "Content-Length: +5\r\n\r\nhello", 400},
		{"content-length hex", "POST / HTTP/1.1\r\n" + hostA + "Content-Length: 0x5\r\n\r\nhello", 400},
		{"content-length empty", "POST / HTTP/1.1\r\n" + hostA + "Content-Length: \r\n\r\n", 400},
		{"content-length huge", "POST / HTTP/1.1\r\n" + hostA + "Content-Length: 99999999999999999999\r\n\r\n", 400},
		{"bare lf request line", "GET / HTTP/1.1\n" + hostA + "\r\n", 400},
		{"bare lf header", "GET / HTTP/1.1\r\nHost: a\n\r\n", 400},
		{"bare lf end of head", "GET / HTTP/1.1\r\n" + hostA + "\n", 400},
		{"bare cr", "GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n", 400},
		{"obs-fold", "GET / HTTP/1.1\r\n" + hostA + "X-A: 1\r\n 2\r\n\r\n", 400},
		{"obs-fold tab", "GET / HTTP/1.1\r\n" + hostA + "X-A: 1\r\n\t2\r\n\r\n", 400},
		{"space before colon", "GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400},
		{"tab before colon", "GET / HTTP/1.1\r\n" + hostA + "Content-Length\t: 0\r\n\r\n", 400},
		{"invalid name char", "GET / HTTP/1.1\r\n" + hostA + "X@Y: 1\r\n\r\n", 400},
		{"non-ascii name", "GET / HTTP/1.1\r\n" + hostA + "X\xc3\xa9: 1\r\n\r\n", 400},
		{"empty name", "GET / HTTP/1.1\r\n" + hostA + ": 1\r\n\r\n", 400},
		{"no colon", "GET / HTTP/1.1\r\n" + hostA + "X-A\r\n\r\n", 400},
		{"invalid method char", "G(T / HTTP/1.1\r\n" + hostA + "\r\n", 400},
		{"control char in value", "GET / HTTP/1.1\r\n" + hostA + "X-A: a\x01b\r\n\r\n", 400},
		{"nul in value", "GET / HTTP/1.1\r\n" + hostA + "X-A: a\x00b\r\n\r\n", 400},
		{"del in value", "GET / HTTP/1.1\r\n" + hostA + "X-A: a\x7fb\r\n\r\n", 400},
		{"two spaces in request line", "GET  / HTTP/1.1\r\n" + hostA + "\r\n", 400},
		{"space in target", "GET /a b HTTP/1.1\r\n" + hostA + "\r\n", 400},
		{"control char in target", "GET /a\x01 HTTP/1.1\r\n" + hostA + "\r\n", 400},
		{"missing version", "GET /\r\n" + hostA + "\r\n", 400},
		{"http/2.0 version", "GET / HTTP/2.0\r\n" + hostA + "\r\n", 400},
		{"lowercase version", "GET / http/1.1\r\n" + hostA + "\r\n", 400},
		{"two-digit minor", "GET / HTTP/1.10\r\n" + hostA + "\r\n", 400},
		{"missing host", "GET / HTTP/1.1\r\nX-A: 1\r\n\r\n", 400},
		{"two hosts", "GET / HTTP/1.1\r\n" + hostA + "Host: b\r\n\r\n", 400},
		{"empty line before request", "\r\nGET / HTTP/1.1\r\n" + hostA + "\r\n", 400},
		{"head too large", "GET / HTTP/1.1\r\n" + hostA + "X-Big: " + strings.Repeat("b", 2000) + "\r\n\r\n", 431},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := dial(t, f.addr)
			if _, err := io.WriteString(c, tc.req); err != nil {
				t.Fatal(err)
			}
			got := readAll(t, c)
			checkRefusal(t, got, tc.status)
		})
	}
	if seen := f.requests(); len(seen) != 0 {
		t.Fatalf("handler ran for malformed requests: %q", seen)
	}
}

// Bytes whose request line has no HTTP/ version are not HTTP/1.x: the
// connection is closed without a response (and without a reset), and the
// handler never runs.
func TestStrictClosesNonHTTP(t *testing.T) {
	f := startH1(t, Options{}, nil)
	for _, req := range []string{
		"INVALID CONNECTION PREFACE\r\n\r\n",
		"GET / SSH-2.0\r\n\r\n",
		"GET / HTTX/1.1\r\n" + hostA + "\r\n",
	} {
		c := dial(t, f.addr)
		if _, err := io.WriteString(c, req); err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(c)
		if len(got) != 0 || err != nil {
			t.Fatalf("%q: got %q, %v; want a clean close with no response", req, got, err)
		}
	}
	// One letter into a real version is still HTTP: 400 as before.
	c := dial(t, f.addr)
	_, _ = io.WriteString(c, "GET / HTTP/2.0\r\n"+hostA+"\r\n")
	checkRefusal(t, readAll(t, c), 400)
	if seen := f.requests(); len(seen) != 0 {
		t.Fatalf("handler ran: %q", seen)
	}
}

// checkRefusal asserts one JSON error response and nothing else.
func checkRefusal(t *testing.T, raw string, status int) {
	t.Helper()
	br := bufio.NewReader(strings.NewReader(raw))
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("no response (%v) in %q", err, raw)
	}
	if resp.StatusCode != status || !resp.Close || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("got %d close=%v type=%q, want %d, close, json", resp.StatusCode, resp.Close, resp.Header.Get("Content-Type"), status)
	}
	var doc struct {
		Error struct {
			Status  int    `json:"status"`
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatalf("body: %v", err)
	}
	if doc.Error.Status != status || doc.Error.Code == "" || doc.Error.Message == "" {
		t.Fatalf("body %+v", doc)
	}
	if rest, _ := io.ReadAll(br); len(rest) != 0 {
		t.Fatalf("bytes after the refusal: %q", rest)
	}
}

// A valid request pipelined before a bad one is answered, then the bad one
// is refused: its head never reaches the server, in one packet or split.
func TestStrictPipelinedThenBad(t *testing.T) {
	f := startH1(t, Options{}, nil)
	good := "POST /one HTTP/1.1\r\n" + hostA + "Content-Length: 5\r\n\r\nhello"
	bad := "GET /two HTTP/1.1\r\n" + hostA + "Transfer-Encoding: chunked\r\nContent-Length: 0\r\n\r\n"
	for _, split := range []int{0, len(good), len(good) + 10} {
		c := dial(t, f.addr)
		stream := good + bad
		if split > 0 {
			if _, err := io.WriteString(c, stream[:split]); err != nil {
				t.Fatal(err)
			}
			stream = stream[split:]
		}
		if _, err := io.WriteString(c, stream); err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(c)
		resp := readResponses(t, br, 1)[0]
		if got := bodyOf(t, resp); got != "POST /one hello" {
			t.Fatalf("first response %q", got)
		}
		rest, err := io.ReadAll(br)
		if err != nil {
			t.Fatal(err)
		}
		checkRefusal(t, string(rest), 400)
	}
	for _, r := range f.requests() {
		if r != "POST /one hello" {
			t.Fatalf("handler saw %q", r)
		}
	}
}

// Violations inside a chunked body reach the handler as a read error that
// wraps *Violation; the connection then closes and nothing after it runs.
func TestStrictRejectsMalformedChunks(t *testing.T) {
	f := startH1(t, Options{MaxHeaderBytes: 512}, nil)
	head := "POST /c HTTP/1.1\r\n" + hostA + "Transfer-Encoding: chunked\r\n\r\n"
	next := "GET /smuggled HTTP/1.1\r\n" + hostA + "\r\n"
	cases := []struct {
		name, body string
		goErr      bool // net/http notices first and reports its own error
	}{
		{name: "bare lf after size", body: "5\nhello\r\n0\r\n\r\n"},
		{name: "bare lf after data", body: "5\r\nhello\n0\r\n\r\n"},
		{name: "bare lf last chunk", body: "0\n\r\n"},
		{name: "bare lf in trailer", body: "0\r\nX-T: 1\n\r\n", goErr: true},
		{name: "space after size", body: "5 \r\nhello\r\n0\r\n\r\n"},
		{name: "negative size", body: "-5\r\nhello\r\n0\r\n\r\n"},
		{name: "size too long", body: "10000000000000000\r\n"},
		{name: "no size", body: "\r\nhello\r\n0\r\n\r\n"},
		{name: "data longer than size", body: "3\r\nhello\r\n0\r\n\r\n"},
		{name: "control char in extension", body: "5;a=\x01\r\nhello\r\n0\r\n\r\n"},
		{name: "obs-fold in trailer", body: "0\r\nX-T: 1\r\n 2\r\n\r\n", goErr: true},
		{name: "trailer too large", body: "0\r\nX-T: " + strings.Repeat("t", 600) + "\r\n\r\n", goErr: true},
		{name: "chunk line too long", body: "5;" + strings.Repeat("e", maxChunkLine) + "\r\nhello\r\n0\r\n\r\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := dial(t, f.addr)
			if _, err := io.WriteString(c, head+tc.body+next); err != nil {
				t.Fatal(err)
			}
			br := bufio.NewReader(c)
			resp := readResponses(t, br, 1)[0]
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("status %d", resp.StatusCode)
			}
			if rest, _ := io.ReadAll(br); len(rest) != 0 {
				t.Fatalf("more after the handler's response: %q", rest)
			}
			f.mu.Lock()
			defer f.mu.Unlock()
			if len(f.berrs) == 0 {
				t.Fatal("handler saw no body error")
			}
			var v *Violation
			if err := f.berrs[len(f.berrs)-1]; !tc.goErr && !errors.As(err, &v) {
				t.Fatalf("body error %v does not wrap *Violation", err)
			}
			f.berrs = f.berrs[:0]
		})
	}
	for _, r := range f.requests() {
		if strings.Contains(r, "smuggled") {
			t.Fatalf("smuggled request served: %q", r)
		}
	}
}
