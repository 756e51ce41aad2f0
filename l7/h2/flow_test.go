package h2

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"
)

// bigBody is 8 MiB of pseudo-random bytes.
func bigBody() []byte {
	b := make([]byte, 8<<20)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// slowReader returns at most n bytes per Read.
type slowReader struct {
	r io.Reader
	n int
}

func (s slowReader) Read(p []byte) (int, error) {
	return s.r.Read(p[:min(len(p), s.n)])
}

// bufferedBytes reports how many request body bytes the server holds for
// r, and the capacity of the buffer holding them.
func bufferedBytes(r *http.Request) (held, capacity int) {
	st := r.Body.(*requestBody).st
	st.mu.Lock()
	defer st.mu.Unlock()
	return len(st.buf) - st.head, cap(st.buf)
}

// TestLargeBodies sends 8 MiB both ways through the flow-control
// windows: the handler echoes what it reads, fast or a few bytes at a
// time, to a client reading fast or slowly. The server never holds more
// than its stream window of a request body, nor a buffer much larger.
func TestLargeBodies(t *testing.T) {
	body := bigBody()
	sum := sha256.Sum256(body)
	for _, tc := range []struct {
		name             string
		serverN, clientN int // bytes per Read; 0: unbounded
	}{
		{"fast", 0, 0},
		{"slow handler", 1000, 0},
		{"slow client", 0, 1000},
		{"both slow", 3000, 700},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var maxHeld, maxCap atomic.Int64
			addr := serveLoopback(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				var src io.Reader = r.Body
				if tc.serverN > 0 {
					src = slowReader{r.Body, tc.serverN}
				}
				buf := make([]byte, 32<<10)
				for {
					n, err := src.Read(buf)
					held, capacity := bufferedBytes(r)
					storeMax(&maxHeld, held)
					storeMax(&maxCap, capacity)
					if _, werr := w.Write(buf[:n]); werr != nil || err != nil {
						return
					}
				}
			})})
			client, _ := h2cClient(t)
			resp, err := client.Post("http://"+addr+"/echo", "application/octet-stream", bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var src io.Reader = resp.Body
			if tc.clientN > 0 {
				src = slowReader{resp.Body, tc.clientN}
			}
			h := sha256.New()
			n, err := io.Copy(h, src)
			if err != nil || n != int64(len(body)) || !bytes.Equal(h.Sum(nil), sum[:]) {
				t.Fatalf("echo: %d bytes, %v, digest match %v", n, err, bytes.Equal(h.Sum(nil), sum[:]))
			}
			if maxHeld.Load() > streamWindow {
				t.Errorf("server held %d request bytes, more than its window %d", maxHeld.Load(), streamWindow)
			}
			if maxCap.Load() > 2*streamWindow {
				t.Errorf("request body buffer grew to %d bytes for a %d window", maxCap.Load(), streamWindow)
			}
		})
	}
}

func storeMax(m *atomic.Int64, v int) {
	for {
		old := m.Load()
		if int64(v) <= old || m.CompareAndSwap(old, int64(v)) {
			return
		}
	}
}

// TestTrailers: request trailers reach r.Trailer at EOF; declared and
// undeclared (http.TrailerPrefix) response trailers reach the client.
func TestTrailers(t *testing.T) {
	type seen struct{ before, after http.Header }
	got := make(chan seen, 1)
	addr := serveLoopback(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		before := r.Trailer.Clone()
		body, _ := io.ReadAll(r.Body)
		got <- seen{before, r.Trailer.Clone()}
		w.Header().Set("Trailer", "X-Sum, X-Unset")
		w.WriteHeader(200)
		_, _ = w.Write(body)
		w.Header().Set("X-Sum", fmt.Sprint(len(body)))
		w.Header().Set(http.TrailerPrefix+"X-Late", "yes")
	})})
	client, _ := h2cClient(t)
	req, _ := http.NewRequest("POST", "http://"+addr+"/", io.NopCloser(strings.NewReader("twelve bytes")))
	req.Trailer = http.Header{"X-Check": {"abc"}}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	s := recv(t, got, "the handler")
	if _, ok := s.before["X-Check"]; !ok || s.before.Get("X-Check") != "" {
		t.Errorf("before EOF r.Trailer = %v, want the declared key without a value", s.before)
	}
	if s.after.Get("X-Check") != "abc" {
		t.Errorf("after EOF r.Trailer = %v", s.after)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil || string(body) != "twelve bytes" {
		t.Fatalf("body %q, %v", body, err)
	}
	if resp.Trailer.Get("X-Sum") != "12" || resp.Trailer.Get("X-Late") != "yes" {
		t.Errorf("response trailers %v", resp.Trailer)
	}
	if v, ok := resp.Trailer["X-Unset"]; ok && len(v) > 0 {
		t.Errorf("a declared trailer never set arrived: %v", v)
	}
}

// TestRawTrailers sends request trailers frame by frame: after a body
// shorter than its content-length they reset the stream.
func TestRawTrailers(t *testing.T) {
	got := make(chan string, 1)
	addr := serveLoopback(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		got <- fmt.Sprintf("%s %v %v", b, err, r.Trailer)
	})})
	c := dialRaw(t, addr)
	c.request(1, "POST", "/", false, "content-length", "3")
	c.data(1, false, "abc")
	c.headers(1, true, "x-t", "1")
	if s := recv(t, got, "the handler"); s != "abc <nil> map[X-T:[1]]" {
		t.Errorf("handler saw %s", s)
	}
	c.readStream(1)
	c.request(3, "POST", "/", false, "content-length", "4")
	c.data(3, false, "abc")
	c.headers(3, true, "x-t", "1")
	if r := c.readStream(3); !r.reset || r.rst != 1 {
		t.Errorf("short body then trailers: %v, want RST_STREAM PROTOCOL_ERROR", r.frames)
	}
	recv(t, got, "the handler")
}

// TestFullDuplex: the handler echoes each line as it arrives while the
// client is still sending.
func TestFullDuplex(t *testing.T) {
	addr := serveLoopback(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := http.NewResponseController(w).EnableFullDuplex(); err != nil {
			t.Errorf("EnableFullDuplex: %v", err)
		}
		w.WriteHeader(200)
		w.(http.Flusher).Flush()
		sc := bufio.NewScanner(r.Body)
		for sc.Scan() {
			_, _ = fmt.Fprintf(w, "echo %s\n", sc.Text())
			w.(http.Flusher).Flush()
		}
	})})
	client, _ := h2cClient(t)
	pr, pw := io.Pipe()
	resp, err := client.Post("http://"+addr+"/", "text/plain", pr)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	lines := bufio.NewReader(resp.Body)
	for i := range 20 {
		if _, err := fmt.Fprintf(pw, "line %d\n", i); err != nil {
			t.Fatal(err)
		}
		got, err := lines.ReadString('\n')
		if want := fmt.Sprintf("echo line %d\n", i); err != nil || got != want {
			t.Fatalf("got %q, %v, want %q", got, err, want)
		}
	}
	_ = pw.Close()
	if rest, err := io.ReadAll(lines); err != nil || len(rest) != 0 {
		t.Errorf("after the request ended: %q, %v", rest, err)
	}
}

// BufferedComplete tells a proxy when a request body has ended and is all
// in memory (it then leaves with the request headers): -1 while the
// client may still send, the length once END_STREAM was read, -1 again
// once the handler started reading.
func TestBufferedComplete(t *testing.T) {
	type probe interface{ BufferedComplete() int }
	started, release := make(chan int, 1), make(chan struct{})
	after := make(chan [2]int, 1)
	addr := serveLoopback(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b := r.Body.(probe)
		started <- b.BufferedComplete()
		<-release
		whole := b.BufferedComplete()
		p := make([]byte, 2)
		_, _ = r.Body.Read(p)
		after <- [2]int{whole, b.BufferedComplete()}
		_, _ = io.Copy(io.Discard, r.Body)
	})})
	c := dialRaw(t, addr)
	c.request(1, "POST", "/", false)
	if n := recv(t, started, "the handler's start"); n != -1 {
		t.Fatalf("before END_STREAM: %d, want -1", n)
	}
	c.data(1, true, "hello")
	// The server handles frames in order: once the PING is answered, the
	// DATA before it has been read.
	if err := c.fr.WritePing(false, [8]byte{1}); err != nil {
		t.Fatal(err)
	}
	for {
		f, err := c.fr.ReadFrame()
		if err != nil {
			t.Fatal(err)
		}
		if p, ok := f.(*http2.PingFrame); ok && p.IsAck() {
			break
		}
	}
	close(release)
	if got := recv(t, after, "the handler's probes"); got != [2]int{5, -1} {
		t.Fatalf("BufferedComplete after END_STREAM, after a read: %v, want [5 -1]", got)
	}
	c.readStream(1)
}

// Request bodies a handler never reads do not eat the connection's
// window: the handler waits until the whole body has arrived (unread) and
// answers; far more than the connection window goes through one
// connection that way.
func TestUnreadBodiesRefunded(t *testing.T) {
	type probe interface{ BufferedComplete() int }
	addr := serveLoopback(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		deadline := time.Now().Add(testTimeout)
		for r.Body.(probe).BufferedComplete() < 0 && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond) // polling a condition, bounded
		}
		_, _ = io.WriteString(w, "ignored your body")
	})})
	client, _ := h2cClient(t)
	body := bytes.Repeat([]byte("x"), streamWindow/2)
	for i := 0; i < 4*connWindow/len(body); i++ {
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		req, _ := http.NewRequestWithContext(ctx, "POST", "http://"+addr+"/", bytes.NewReader(body))
		res, err := client.Do(req)
		if err != nil {
			cancel()
			t.Fatalf("request %d: %v", i, err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		_ = res.Body.Close()
		cancel()
	}
}
