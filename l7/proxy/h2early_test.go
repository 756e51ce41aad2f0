package proxy

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"testing"

	"golang.org/x/net/http2"
)

// h2tReadyBody is a request body already whole in memory that says so, as
// the HTTP/2 server's bodies do (bufferedBody).
type h2tReadyBody struct {
	r     *bytes.Reader
	ready bool
}

func (b *h2tReadyBody) Read(p []byte) (int, error) { return b.r.Read(p) }
func (b *h2tReadyBody) Close() error               { return nil }
func (b *h2tReadyBody) BufferedComplete() int {
	if !b.ready {
		return -1
	}
	return b.r.Len()
}

// A body that is whole in memory leaves with its headers: HEADERS, then
// one DATA frame that carries all of it and END_STREAM. A body that is
// not (or is larger than h2EarlyBody) goes through the body writer, which
// ends the stream with an empty DATA frame of its own.
func TestH2EarlyBody(t *testing.T) {
	type seen struct {
		frames []string
		body   []byte
	}
	got := make(chan seen, 4)
	addr := h2tRawServer(t, func(_ int, rc *h2tRaw) {
		for {
			h, err := rc.request()
			if err != nil {
				return
			}
			var s seen
			for end := false; !end; {
				f, err := rc.next()
				if err != nil {
					return
				}
				d, ok := f.(*http2.DataFrame)
				if !ok {
					s.frames = append(s.frames, fmt.Sprintf("%T", f))
					continue
				}
				s.frames = append(s.frames, fmt.Sprintf("DATA(%d,end=%v)", len(d.Data()), d.StreamEnded()))
				s.body = append(s.body, d.Data()...)
				end = d.StreamEnded()
			}
			got <- s
			if rc.respond(h.StreamID, "ok") != nil {
				return
			}
		}
	})
	tr := h2tClient(t, "h2c", nil, 0)
	small, large := h2tPayload(100), h2tPayload(h2EarlyBody+1)
	for _, c := range []struct {
		name   string
		body   []byte
		ready  bool
		bytes  bool // sent as BytesBody
		frames []string
	}{
		{"whole and small", small, true, false, []string{"DATA(100,end=true)"}},
		{"not yet whole", small, false, false, []string{"DATA(100,end=false)", "DATA(0,end=true)"}},
		{"whole but large", large, true, false, nil},
		{"BytesBody", small, false, true, []string{"DATA(100,end=true)"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			req := h2tRequest(t, h2tCtx(t), "POST", "http://"+addr+"/svc/Method", nil)
			req.Body = &h2tReadyBody{r: bytes.NewReader(c.body), ready: c.ready}
			if c.bytes {
				req.Body = BytesBody(c.body)
			}
			res, err := tr.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(res.Body)
			_ = res.Body.Close()
			if err != nil || string(b) != "ok" {
				t.Fatalf("response %q, %v", b, err)
			}
			s := h2tRecv(t, got, "the upstream's view")
			if !bytes.Equal(s.body, c.body) {
				t.Fatalf("upstream got %d body bytes, want %d", len(s.body), len(c.body))
			}
			if c.frames != nil && fmt.Sprint(s.frames) != fmt.Sprint(c.frames) {
				t.Errorf("frames after HEADERS: %v, want %v", s.frames, c.frames)
			}
		})
	}
}

// A body that claims to be whole but reads longer fails the request
// instead of being cut.
func TestH2EarlyBodyLongerThanAnnounced(t *testing.T) {
	addr := h2tRawServer(t, func(_ int, rc *h2tRaw) { rc.drain() })
	tr := h2tClient(t, "h2c", nil, 0)
	req := h2tRequest(t, h2tCtx(t), "POST", "http://"+addr+"/", nil)
	req.Body = &lyingBody{n: 2 * h2EarlyBody}
	if _, err := tr.RoundTrip(req); err == nil || !strings.Contains(err.Error(), "longer than announced") {
		t.Fatalf("RoundTrip: %v, want an error", err)
	}
}

// lyingBody announces a small whole body and reads much more.
type lyingBody struct{ n int }

func (b *lyingBody) Read(p []byte) (int, error) {
	if b.n == 0 {
		return 0, io.EOF
	}
	m := min(len(p), b.n)
	b.n -= m
	return m, nil
}
func (b *lyingBody) Close() error          { return nil }
func (b *lyingBody) BufferedComplete() int { return 10 }
