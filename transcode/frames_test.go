package transcode_test

import (
	"io"
	"net"
	"sync"
	"testing"
)

// dataFrames counts the DATA frames a relay saw going to the service.
type dataFrames struct {
	mu      sync.Mutex
	ended   int // with END_STREAM
	unended int // without: the body went apart from the end of the stream
	empty   int
}

func (d *dataFrames) get() (ended, unended, empty int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.ended, d.unended, d.empty
}

// startFrameRelay relays TCP to target on loopback, reading the HTTP/2
// frames sent to it on the way.
func startFrameRelay(t *testing.T, target string) (string, *dataFrames) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	d := &dataFrames{}
	var wg sync.WaitGroup
	t.Cleanup(func() { _ = ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", target)
			if err != nil {
				_ = c.Close()
				continue
			}
			wg.Add(2)
			go func() { defer wg.Done(); _, _ = io.Copy(c, u); _ = c.Close() }()
			go func() { defer wg.Done(); d.relay(c, u); _ = u.Close() }()
		}
	}()
	return ln.Addr().String(), d
}

func (d *dataFrames) relay(from io.Reader, to io.Writer) {
	preface := make([]byte, 24)
	if _, err := io.ReadFull(from, preface); err != nil {
		return
	}
	if _, err := to.Write(preface); err != nil {
		return
	}
	for {
		hdr := make([]byte, 9)
		if _, err := io.ReadFull(from, hdr); err != nil {
			return
		}
		payload := make([]byte, int(hdr[0])<<16|int(hdr[1])<<8|int(hdr[2]))
		if _, err := io.ReadFull(from, payload); err != nil {
			return
		}
		if hdr[3] == 0 { // DATA
			d.mu.Lock()
			if hdr[4]&1 != 0 {
				d.ended++
			} else {
				d.unended++
			}
			if len(payload) == 0 {
				d.empty++
			}
			d.mu.Unlock()
		}
		if _, err := to.Write(append(hdr, payload...)); err != nil {
			return
		}
	}
}

// A unary call's message leaves with the end of the stream: one DATA
// frame with END_STREAM, never the message and then an empty frame to end
// it (which cost the service a frame and a RST_STREAM per call).
func TestUnaryCallIsOneDataFrame(t *testing.T) {
	addr, _ := startService(t, nil)
	relay, frames := startFrameRelay(t, addr)
	routeUpstream = relay
	defer func() { routeUpstream = "" }()
	f := startFixture(t, "")
	const calls = 4
	for i := 0; i < calls; i++ {
		path, body, method := "/v1/shelves/1/books/1", "", "GET"
		if i%2 == 1 {
			path, body, method = "/v1/echo", `{"stringField":"x"}`, "POST"
		}
		if r := f.do(t, method, path, body); r.Status != 200 {
			t.Fatalf("%s %s: %d %s", method, path, r.Status, r.Body)
		}
	}
	// The relay counts a frame before passing it on, so each request's
	// frames are counted before its response can come back.
	if ended, unended, empty := frames.get(); ended != calls || unended != 0 || empty != 0 {
		t.Fatalf("DATA frames: %d with END_STREAM, %d without, %d empty; want %d, 0, 0", ended, unended, empty, calls)
	}
}
