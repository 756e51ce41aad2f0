package h1

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"testing"
	"time"
)

// smallSendBuffers makes the server's socket buffers small, so that a
// response of a few hundred KiB outruns them and its writes wait for the
// client to read.
type smallSendBuffers struct{ net.Listener }

func (l smallSendBuffers) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(8 << 10)
	}
	return c, err
}

// writeBody returns a handler that writes n blocks of 16 KiB and reports
// the first write error (nil when all went) on done.
func writeBody(n int, done chan<- error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		block := make([]byte, 16<<10)
		for range n {
			if _, err := w.Write(block); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	})
}

// TestStalledReaderDropped: with WriteTimeout 0, a client that stops
// reading its response fails the handler's write after about IdleTimeout
// and its connection is closed.
func TestStalledReaderDropped(t *testing.T) {
	const idle = 200 * time.Millisecond
	done := make(chan error, 1)
	s, addr := startServer(t, writeBody(4096, done), func(s *Server) { s.IdleTimeout = idle })
	c := dial(t, addr)
	begin := time.Now()
	c.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n") // and never read
	select {
	case err := <-done:
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("handler's write: %v, want a deadline error", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the handler is still writing to a client that stopped reading")
	}
	if waited := time.Since(begin); waited < idle*7/8 {
		t.Errorf("write failed after %v, before IdleTimeout", waited)
	}
	waitFor(t, "the connection to close", func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return len(s.conns) == 0
	})
}

// pacedReader reads at most 16 KiB per tick: a slow client that keeps
// reading.
type pacedReader struct {
	r    io.Reader
	tick <-chan time.Time
}

func (p pacedReader) Read(b []byte) (int, error) {
	<-p.tick
	return p.r.Read(b[:min(len(b), 16<<10)])
}

// TestSlowReaderServed: a client that reads slowly, so that the response
// takes several times IdleTimeout, but never stalls for that long, gets it
// all.
func TestSlowReaderServed(t *testing.T) {
	const idle = 250 * time.Millisecond
	const blocks = 64 // 1 MiB
	done := make(chan error, 1)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, addr := startServerOn(t, smallSendBuffers{ln}, writeBody(blocks, done), func(s *Server) { s.IdleTimeout = idle })
	c := dial(t, addr)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	br := bufio.NewReaderSize(pacedReader{r: c.c, tick: tick.C}, 64<<10)
	begin := time.Now()
	c.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	res, err := http.ReadResponse(br, &http.Request{Method: "GET"})
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, res.Body)
	if err != nil || n != blocks*16<<10 {
		t.Fatalf("read %d body bytes: %v", n, err)
	}
	if err := <-done; err != nil {
		t.Fatalf("handler's write: %v", err)
	}
	if took := time.Since(begin); took < 2*idle {
		t.Fatalf("the response took %v, too fast to test anything", took)
	}
}

// TestOwnWriteDeadlineKept: a handler that sets its own write deadline
// (http.ResponseController) keeps it; the progress deadline does not
// replace it.
func TestOwnWriteDeadlineKept(t *testing.T) {
	const idle = 100 * time.Millisecond
	done := make(chan error, 1)
	var begin time.Time
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		begin = time.Now()
		if err := http.NewResponseController(w).SetWriteDeadline(begin.Add(4 * idle)); err != nil {
			done <- err
			return
		}
		writeBody(4096, done).ServeHTTP(w, r)
	})
	_, addr := startServer(t, h, func(s *Server) { s.IdleTimeout = idle })
	c := dial(t, addr)
	c.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n") // and never read
	select {
	case err := <-done:
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("handler's write: %v, want a deadline error", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the handler's own deadline did not end its write")
	}
	if waited := time.Since(begin); waited < 4*idle {
		t.Errorf("write failed after %v, before the handler's deadline", waited)
	}
}
