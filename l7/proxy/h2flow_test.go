package proxy

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// TestH2LargeBodies moves 8 MiB each way, against a server that echoes,
// one that reads the request slowly and one whose response the client
// reads slowly; the client never holds more than its stream window.
func TestH2LargeBodies(t *testing.T) {
	payload := h2tPayload(8 << 20)
	t.Run("echo", func(t *testing.T) {
		srv := h2tServer(t, func(w http.ResponseWriter, r *http.Request) { _, _ = io.Copy(w, r.Body) }, nil)
		tr := h2tClient(t, "h2c", nil, 0)
		// No Content-Length: the body is streamed.
		req := h2tRequest(t, h2tCtx(t), http.MethodPost, srv.URL, io.MultiReader(bytes.NewReader(payload)))
		res, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		h2tReadBounded(t, res, payload)
	})
	t.Run("slow server reader", func(t *testing.T) {
		const window = 64 << 10
		var sent atomic.Int64
		filled := make(chan struct{})
		body := &h2tCountingReader{r: bytes.NewReader(payload[:2<<20]), n: &sent, at: window, reached: filled}
		srv := h2tServer(t, func(w http.ResponseWriter, r *http.Request) {
			<-filled
			// The client has a window's worth out and must now wait: it may
			// hold one copy buffer more, no more.
			if n := sent.Load(); n > window+32<<10 {
				t.Errorf("client read %d bytes of the request body ahead of a %d byte window", n, window)
			}
			got := make([]byte, 0, 2<<20)
			buf := make([]byte, 1024)
			for {
				n, err := r.Body.Read(buf)
				got = append(got, buf[:n]...)
				if err != nil {
					break
				}
			}
			if !bytes.Equal(got, payload[:2<<20]) {
				t.Errorf("server received %d bytes, not the %d sent", len(got), 2<<20)
			}
		}, func(s *http.Server) {
			s.HTTP2 = &http.HTTP2Config{MaxReceiveBufferPerStream: window, MaxReceiveBufferPerConnection: window}
		})
		tr := h2tClient(t, "h2c", nil, 0)
		res, err := tr.RoundTrip(h2tRequest(t, h2tCtx(t), http.MethodPost, srv.URL, body))
		if err != nil {
			t.Fatal(err)
		}
		_ = res.Body.Close()
	})
	t.Run("slow client reader", func(t *testing.T) {
		var written atomic.Int64
		srv := h2tServer(t, func(w http.ResponseWriter, r *http.Request) {
			for p := payload; len(p) > 0; p = p[32<<10:] {
				n, err := w.Write(p[:32<<10])
				written.Add(int64(n))
				if err != nil {
					return
				}
			}
		}, nil)
		tr := h2tClient(t, "h2c", nil, 0)
		res, err := tr.RoundTrip(h2tRequest(t, h2tCtx(t), http.MethodGet, srv.URL, nil))
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		h2tWait(t, "the stream window to fill", func() bool { n, _ := h2tBuffered(res); return n == h2RecvStreamWindow })
		if w := written.Load(); w > 2<<20 {
			t.Errorf("server wrote %d bytes while the client read nothing: flow control did not hold it", w)
		}
		h2tReadBounded(t, res, payload)
	})
}

// h2tReadBounded reads res to the end in small pieces, checking that the
// stream never holds more than its window (nor a slice much larger), and
// compares what it read with want.
func h2tReadBounded(t *testing.T, res *http.Response, want []byte) {
	t.Helper()
	got := make([]byte, 0, len(want))
	buf := make([]byte, 16<<10)
	for {
		n, err := res.Body.Read(buf)
		got = append(got, buf[:n]...)
		if unread, held := h2tBuffered(res); unread > h2RecvStreamWindow || held > 2*h2RecvStreamWindow {
			t.Fatalf("stream holds %d unread bytes in a %d byte slice; window %d", unread, held, h2RecvStreamWindow)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("read after %d bytes: %v", len(got), err)
		}
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("read %d bytes, not the %d expected", len(got), len(want))
	}
}

// h2tCountingReader counts what is read from r and closes reached once
// at bytes were read.
type h2tCountingReader struct {
	r       io.Reader
	n       *atomic.Int64
	at      int64
	reached chan struct{}
	once    sync.Once
}

func (c *h2tCountingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if c.n.Add(int64(n)) >= c.at {
		c.once.Do(func() { close(c.reached) })
	}
	return n, err
}

// TestH2Trailers checks response trailers (declared, and undeclared with
// TrailerPrefix) land in res.Trailer at EOF, and request trailers,
// final only when the body ends, reach the server.
func TestH2Trailers(t *testing.T) {
	srv := h2tServer(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Trailer", "X-Sum")
		_, _ = io.WriteString(w, "body;")
		_, _ = io.WriteString(w, r.Trailer.Get("X-Req-Sum")+","+r.Trailer.Get("X-Static"))
		w.Header().Set("X-Sum", "42")
		w.Header().Set(http.TrailerPrefix+"X-Late", "late")
	}, nil)
	tr := h2tClient(t, "h2c", nil, 0)
	req := h2tRequest(t, h2tCtx(t), http.MethodPost, srv.URL, nil)
	req.Trailer = http.Header{"X-Req-Sum": nil, "X-Static": {"v"}}
	req.Body = &h2tTrailerBody{r: strings.NewReader("data"), trailer: req.Trailer}
	res, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if _, ok := res.Trailer["X-Sum"]; !ok {
		t.Errorf("declared trailer missing from res.Trailer before the body: %v", res.Trailer)
	}
	b, err := io.ReadAll(res.Body)
	if err != nil || string(b) != "body;abc,v" {
		t.Errorf("body %q, %v; want the request trailers echoed", b, err)
	}
	if res.Trailer.Get("X-Sum") != "42" || res.Trailer.Get("X-Late") != "late" {
		t.Errorf("trailers %v, want X-Sum 42 and X-Late late", res.Trailer)
	}
}

// h2tTrailerBody sets its request's trailer value at EOF, as a client may.
type h2tTrailerBody struct {
	r       io.Reader
	trailer http.Header
}

func (b *h2tTrailerBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err == io.EOF {
		b.trailer.Set("X-Req-Sum", "abc")
	}
	return n, err
}

func (b *h2tTrailerBody) Close() error { return nil }

// TestH2FullDuplex checks a response is readable chunk by chunk while
// the request is still being sent: the server echoes each line.
func TestH2FullDuplex(t *testing.T) {
	srv := h2tServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		sc := bufio.NewScanner(r.Body)
		for sc.Scan() {
			_, _ = io.WriteString(w, "echo "+sc.Text()+"\n")
			w.(http.Flusher).Flush()
		}
	}, nil)
	tr := h2tClient(t, "h2c", nil, 0)
	pr, pw := io.Pipe()
	defer pw.Close()
	res, err := tr.RoundTrip(h2tRequest(t, h2tCtx(t), http.MethodPost, srv.URL, pr))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	br := bufio.NewReader(res.Body)
	for i := range 5 {
		if _, err := fmt.Fprintf(pw, "line %d\n", i); err != nil {
			t.Fatal(err)
		}
		line, err := br.ReadString('\n')
		if want := fmt.Sprintf("echo line %d\n", i); err != nil || line != want {
			t.Fatalf("read %q, %v; want %q", line, err, want)
		}
	}
	_ = pw.Close()
	if rest, err := io.ReadAll(br); err != nil || len(rest) != 0 {
		t.Fatalf("after the request ended: %q, %v", rest, err)
	}
}
