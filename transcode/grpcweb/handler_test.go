package grpcweb

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"golang.org/x/net/http2"
)

func TestIsGRPCWeb(t *testing.T) {
	tests := []struct {
		ctype string
		want  bool
	}{
		{"application/grpc-web", true},
		{"application/grpc-web+proto", true},
		{"application/grpc-web-text", true},
		{"application/grpc-web-text+proto", true},
		{"Application/GRPC-Web-Text; charset=utf-8", true},
		{" application/grpc-web ;x=y", true},
		{"application/grpc", false},
		{"application/grpc+proto", false},
		{"application/grpc-web+json", false},
		{"application/grpc-webx", false},
		{"application/json", false},
		{"", false},
	}
	for _, tt := range tests {
		r := httptest.NewRequest(http.MethodPost, "/x", nil)
		r.Header.Set("Content-Type", tt.ctype)
		if got := IsGRPCWeb(r); got != tt.want {
			t.Errorf("IsGRPCWeb(%q) = %v, want %v", tt.ctype, got, tt.want)
		}
	}
}

// seen is what a next handler saw of its request.
type seen struct {
	header http.Header
	body   []byte
	length int64
}

// recorder returns a next handler that records its request into out and answers with a
// native gRPC response: one message frame and grpc-status 0.
func recorder(out chan<- seen) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		out <- seen{header: r.Header.Clone(), body: body, length: r.ContentLength}
		w.Header().Set("Content-Type", "application/grpc")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(frame(0, []byte("reply")))
		w.Header().Set(http.TrailerPrefix+"Grpc-Status", "0")
	})
}

func TestRequestRewrite(t *testing.T) {
	payload := frame(0, []byte("request message"))
	tests := []struct {
		ctype, native string
		text          bool
	}{
		{"application/grpc-web", "application/grpc", false},
		{"application/grpc-web+proto", "application/grpc+proto", false},
		{"application/grpc-web-text", "application/grpc", true},
		{"application/grpc-web-text+proto; charset=utf-8", "application/grpc+proto", true},
	}
	for _, tt := range tests {
		t.Run(tt.ctype, func(t *testing.T) {
			got := make(chan seen, 1)
			srv := httptest.NewServer(Handler(recorder(got)))
			defer srv.Close()
			body := payload
			if tt.text {
				body = encodeText(payload)
			}
			h := webHeader(tt.ctype)
			h["Grpc-Timeout"] = "5S"
			resp := send(t, srv.Listener.Addr().String(), rawRequest{path: "/p.S/M", header: h, body: body})
			msgs, tr := readAllFrames(t, resp.Body, tt.text)
			s := <-got
			if s.header.Get("Content-Type") != tt.native || s.header.Get("Te") != "trailers" ||
				s.header.Get("Grpc-Timeout") != "5S" {
				t.Fatalf("request header %v", s.header)
			}
			if _, ok := s.header["X-Grpc-Web"]; ok {
				t.Fatal("X-Grpc-Web kept")
			}
			if _, ok := s.header["X-User-Agent"]; ok {
				t.Fatal("X-User-Agent kept")
			}
			if !bytes.Equal(s.body, payload) {
				t.Fatalf("body %q", s.body)
			}
			if wantLen := int64(len(payload)); tt.text == (s.length == wantLen) {
				t.Fatalf("content length %d (text %v)", s.length, tt.text)
			}
			if len(msgs) != 1 || string(msgs[0]) != "reply" || !slices.Equal(tr["grpc-status"], []string{"0"}) {
				t.Fatalf("answer %q %q", msgs, tr)
			}
		})
	}
}

func TestPassThrough(t *testing.T) {
	body := []byte(`{"not":"grpc-web"}`)
	var gotHeader http.Header
	var gotBody []byte
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotHeader = r.Header.Clone()
		gotBody, _ = io.ReadAll(r.Body)
		w.Header().Set("Trailer", "X-Sum")
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"ok":true}`))
		w.Header().Set("X-Sum", "42")
	})
	srv := httptest.NewServer(Handler(next))
	defer srv.Close()
	h := map[string]string{"Content-Type": "application/json", "X-User-Agent": "ua", "X-Grpc-Web": "1"}
	resp := send(t, srv.Listener.Addr().String(), rawRequest{path: "/v1/things", header: h, body: body})
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(gotBody, body) || gotHeader.Get("Content-Type") != "application/json" ||
		gotHeader.Get("X-User-Agent") != "ua" || gotHeader.Get("X-Grpc-Web") != "1" || gotHeader.Get("Te") != "" {
		t.Fatalf("request changed: %v %q", gotHeader, gotBody)
	}
	if string(out) != `{"ok":true}` || resp.Header.Get("Content-Type") != "application/json" ||
		resp.Trailer.Get("X-Sum") != "42" {
		t.Fatalf("response changed: %v %q %v", resp.Header, out, resp.Trailer)
	}
}

// nextAnswer is what next does with a gRPC-Web request and what the client must get.
type nextAnswer struct {
	name        string
	body        []byte // -text body; valid base64 when nil
	next        http.HandlerFunc
	wantCode    int
	wantPlain   string   // expected body of a response passed as is
	wantStatus  string   // else the grpc-status in the trailer frame
	wantMsgs    []string // and the messages before it
	wantTrailer string   // and one more trailer, "name: value"
	wantCut     bool     // the body breaks off after wantMsgs
}

// nextAnswers are the ways next may answer besides a clean gRPC response.
func nextAnswers() []nextAnswer {
	grpcHead := func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "application/grpc")
		w.WriteHeader(http.StatusOK)
	}
	return []nextAnswer{
		{name: "plain error passed as is", next: func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "no upstream", http.StatusServiceUnavailable)
		}, wantCode: 503, wantPlain: "no upstream\n"},
		{name: "announced trailers", next: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Trailer", "Grpc-Status, Grpc-Message, X-Custom")
			grpcHead(w)
			_, _ = w.Write(frame(0, []byte("m1")))
			w.Header().Set("Grpc-Status", "0")
			w.Header().Set("X-Custom", "c")
		}, wantCode: 200, wantStatus: "0", wantMsgs: []string{"m1"}, wantTrailer: "x-custom: c"},
		{name: "frames in odd pieces", next: func(w http.ResponseWriter, r *http.Request) {
			grpcHead(w)
			all := append(frame(0, []byte("first")), frame(0, []byte("second message"))...)
			for _, piece := range [][]byte{all[:3], all[3:11], all[11:12], all[12:]} {
				_, _ = w.Write(piece)
			}
			w.Header().Set(http.TrailerPrefix+"Grpc-Status", "0")
		}, wantCode: 200, wantStatus: "0", wantMsgs: []string{"first", "second message"}},
		{name: "cut inside a frame", next: func(w http.ResponseWriter, r *http.Request) {
			grpcHead(w)
			_, _ = w.Write(frame(0, []byte("whole")))
			_, _ = w.Write(frame(0, []byte("cut short"))[:8])
		}, wantCode: 200, wantMsgs: []string{"whole"}, wantCut: true},
		{name: "no grpc-status", next: func(w http.ResponseWriter, r *http.Request) {
			grpcHead(w)
		}, wantCode: 200, wantStatus: "13"},
		{name: "bad base64 seen after the answer started", body: append(bytes.Repeat([]byte("QUJD"), 2000), '!'),
			next: func(w http.ResponseWriter, r *http.Request) {
				grpcHead(w)
				_, _ = w.Write(frame(0, []byte("early")))
				_, _ = io.Copy(io.Discard, r.Body)
				w.Header().Set(http.TrailerPrefix+"Grpc-Status", "0")
			}, wantCode: 200, wantStatus: "3", wantMsgs: []string{"early"}},
		{name: "bad base64 then abort", body: append(bytes.Repeat([]byte("QUJD"), 2000), '!'),
			next: func(w http.ResponseWriter, r *http.Request) {
				grpcHead(w)
				if _, err := io.Copy(io.Discard, r.Body); err != nil {
					panic(http.ErrAbortHandler)
				}
			}, wantCode: 200, wantStatus: "3"},
	}
}

// TestNextAnswers covers what next may do with a gRPC-Web request besides a clean gRPC answer.
func TestNextAnswers(t *testing.T) {
	tests := nextAnswers()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(Handler(tt.next))
			defer srv.Close()
			body := tt.body
			if body == nil {
				body = encodeText(frame(0, []byte("hi")))
			}
			resp := send(t, srv.Listener.Addr().String(), rawRequest{path: "/p.S/M",
				header: webHeader("application/grpc-web-text"), body: body})
			if resp.StatusCode != tt.wantCode {
				t.Fatalf("status %d", resp.StatusCode)
			}
			if tt.wantPlain != "" {
				out, _ := io.ReadAll(resp.Body)
				if string(out) != tt.wantPlain || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
					t.Fatalf("plain answer changed: %q %v", out, resp.Header)
				}
				return
			}
			if tt.wantCut {
				checkCut(t, resp.Body, tt.wantMsgs)
				return
			}
			msgs, tr := readAllFrames(t, resp.Body, true)
			var got []string
			for _, m := range msgs {
				got = append(got, string(m))
			}
			if !slices.Equal(got, tt.wantMsgs) || !slices.Equal(tr["grpc-status"], []string{tt.wantStatus}) {
				t.Fatalf("messages %q, trailers %q", got, tr)
			}
			if k, v, ok := strings.Cut(tt.wantTrailer, ": "); ok && !slices.Equal(tr[k], []string{v}) {
				t.Fatalf("trailers %q, want %s", tr, tt.wantTrailer)
			}
		})
	}
}

// checkCut reads the frames of a text body that must break off after the messages want.
func checkCut(t *testing.T, body io.Reader, want []string) {
	t.Helper()
	for _, w := range want {
		f, err := readFrame(t, body, true)
		if err != nil || string(f.data) != w {
			t.Fatalf("frame %q, %v; want %q", f.data, err, w)
		}
	}
	if _, err := io.ReadAll(body); err == nil {
		t.Fatal("body ended cleanly, want it broken off")
	}
}

func TestExposeHeadersMerged(t *testing.T) {
	h := http.Header{}
	exposeStatus(h)
	if len(h) != 0 {
		t.Fatalf("added without an allowed origin: %v", h)
	}
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Access-Control-Expose-Headers", "X-Custom, Grpc-Status")
	exposeStatus(h)
	exposeStatus(h)
	want := []string{"X-Custom, Grpc-Status", "grpc-message, grpc-status-details-bin"}
	if got := h.Values("Access-Control-Expose-Headers"); !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}

// TestHTTP2Client drives Handler from an HTTP/2 (h2c) client.
func TestHTTP2Client(t *testing.T) {
	got := make(chan seen, 1)
	srv := httptest.NewUnstartedServer(Handler(recorder(got)))
	srv.Config.Protocols = new(http.Protocols)
	srv.Config.Protocols.SetHTTP1(true)
	srv.Config.Protocols.SetUnencryptedHTTP2(true)
	srv.Start()
	defer srv.Close()
	tr := &http2.Transport{
		AllowHTTP: true,
		DialTLSContext: func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		},
	}
	defer tr.CloseIdleConnections()
	payload := frame(0, []byte("over h2"))
	req, err := http.NewRequest(http.MethodPost, srv.URL+"/p.S/M", bytes.NewReader(encodeText(payload)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/grpc-web-text")
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	msgs, trl := readAllFrames(t, resp.Body, true)
	if s := <-got; !bytes.Equal(s.body, payload) || resp.ProtoMajor != 2 {
		t.Fatalf("body %q over HTTP/%d", s.body, resp.ProtoMajor)
	}
	if len(msgs) != 1 || string(msgs[0]) != "reply" || !slices.Equal(trl["grpc-status"], []string{"0"}) {
		t.Fatalf("answer %q %q", msgs, trl)
	}
}

// TestFlushPerFrame checks that a frame reaches the client as soon as it is complete, even when
// next never flushes.
func TestFlushPerFrame(t *testing.T) {
	for _, ctype := range []string{"application/grpc-web", "application/grpc-web-text"} {
		t.Run(ctype, func(t *testing.T) {
			release := make(chan struct{})
			next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/grpc")
				_, _ = w.Write(frame(0, []byte("first")))
				select {
				case <-release:
				case <-r.Context().Done():
					return
				}
				_, _ = w.Write(frame(0, []byte("second")))
				w.Header().Set(http.TrailerPrefix+"Grpc-Status", "0")
			})
			srv := httptest.NewServer(Handler(next))
			t.Cleanup(srv.Close) // after the client connection closes, unblocking next on failure
			text := strings.HasSuffix(ctype, "-text")
			body := frame(0, nil)
			if text {
				body = encodeText(body)
			}
			resp := send(t, srv.Listener.Addr().String(), rawRequest{path: "/p.S/M", header: webHeader(ctype), body: body})
			first, err := readFrame(t, resp.Body, text)
			if err != nil || string(first.data) != "first" {
				t.Fatalf("first frame %q, %v", first.data, err)
			}
			close(release)
			msgs, tr := readAllFrames(t, resp.Body, text)
			if len(msgs) != 1 || string(msgs[0]) != "second" || !slices.Equal(tr["grpc-status"], []string{"0"}) {
				t.Fatalf("rest %q %q", msgs, tr)
			}
		})
	}
}
