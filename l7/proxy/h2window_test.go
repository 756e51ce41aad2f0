package proxy

import (
	"context"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"
)

// TestH2UnreadResponsesDoNotStallConnection leaves more responses unread
// on one h2c connection than the connection window holds (each stream
// fills its own window), then makes a small request on the same
// connection: its body must still arrive. The connection's credit goes
// back on receipt, not when a (slow) client reads.
func TestH2UnreadResponsesDoNotStallConnection(t *testing.T) {
	const unread = h2RecvConnWindow/h2RecvStreamWindow + 8
	big := h2tPayload(2 * h2RecvStreamWindow)
	srv := h2tServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/small" {
			_, _ = io.WriteString(w, "small")
			return
		}
		_, _ = w.Write(big) // blocks on flow control until the test ends
	}, nil)
	tr := h2tClient(t, "h2c", nil, 0)
	ctx := h2tCtx(t)
	var held []*http.Response
	t.Cleanup(func() {
		for _, res := range held {
			_ = res.Body.Close()
		}
	})
	for range unread {
		res, err := tr.RoundTrip(h2tRequest(t, ctx, http.MethodGet, srv.URL+"/big", nil))
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, res)
	}
	// The connection's window is exhausted by now unless it is credited on
	// receipt: wait until the streams hold at least that much.
	h2tWait(t, "the unread responses to fill the connection window", func() bool {
		total := 0
		for _, res := range held {
			n, _ := h2tBuffered(res)
			total += n
		}
		return total >= h2RecvConnWindow-h2DefaultWindow
	})
	if n := h2tConns(tr); n != 1 {
		t.Fatalf("%d connections, want the requests on one", n)
	}
	small, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	res, err := tr.RoundTrip(h2tRequest(t, small, http.MethodGet, srv.URL+"/small", nil))
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(res.Body)
	_ = res.Body.Close()
	if err != nil || string(body) != "small" {
		t.Fatalf("small response: %q, %v: the connection window stalled it", body, err)
	}
}

// h2tWindows tracks the flow-control windows a raw server may send in,
// from the client's WINDOW_UPDATEs.
type h2tWindows struct {
	mu     sync.Mutex
	cond   sync.Cond
	conn   int
	stream int
	err    error
}

// take waits until n bytes fit both windows and takes them.
func (w *h2tWindows) take(n int) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	for w.err == nil && (w.conn < n || w.stream < n) {
		w.cond.Wait()
	}
	w.conn -= n
	w.stream -= n
	return w.err
}

// read runs the connection's reads: WINDOW_UPDATEs grow the windows, the
// rest is ignored (the client's SETTINGS were acknowledged before), until
// the connection fails.
func (w *h2tWindows) read(rc *h2tRaw) {
	for {
		f, err := rc.fr.ReadFrame()
		w.mu.Lock()
		switch f := f.(type) {
		case *http2.WindowUpdateFrame:
			if f.StreamID == 0 {
				w.conn += int(f.Increment)
			} else {
				w.stream += int(f.Increment)
			}
		}
		if err != nil {
			w.err = err
		}
		w.cond.Broadcast()
		w.mu.Unlock()
		if err != nil {
			return
		}
	}
}

// TestH2PaddingCredited answers with DATA frames that are mostly padding,
// far more of it than the stream window, sending only within the windows
// the proxy grants: the body arrives whole only if padding is credited
// back to the stream as well as to the connection.
func TestH2PaddingCredited(t *testing.T) {
	const frames = 3 * h2RecvStreamWindow / 256
	pad := make([]byte, 255)
	addr := h2tRawServer(t, func(_ int, rc *h2tRaw) {
		h, err := rc.request()
		if err != nil {
			return
		}
		// The client's SETTINGS and its connection WINDOW_UPDATE came
		// before the request (request skips them).
		w := &h2tWindows{conn: h2RecvConnWindow, stream: h2RecvStreamWindow}
		w.cond.L = &w.mu
		if rc.headers(h.StreamID, false, ":status", "200") != nil {
			return
		}
		go w.read(rc)
		for i := range frames {
			// One byte of data, the pad length byte and 255 bytes of padding.
			if w.take(1+1+len(pad)) != nil {
				return
			}
			if rc.fr.WriteDataPadded(h.StreamID, i == frames-1, []byte{'x'}, pad) != nil {
				return
			}
		}
		w.mu.Lock()
		for w.err == nil {
			w.cond.Wait()
		}
		w.mu.Unlock()
	})
	tr := h2tClient(t, "h2c", nil, 0)
	ctx, cancel := context.WithTimeout(h2tCtx(t), 5*time.Second)
	defer cancel()
	res, err := tr.RoundTrip(h2tRequest(t, ctx, http.MethodGet, "http://"+addr+"/", nil))
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(res.Body)
	_ = res.Body.Close()
	if err != nil || len(body) != frames {
		t.Fatalf("read %d of %d bytes: %v (the stream window shrank by the padding)", len(body), frames, err)
	}
}
