package tcpproxy

import (
	"context"
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

// mode chooses how the proxy hands its sockets to Pipe.
type mode struct {
	name    string
	wrap    func(*net.TCPConn) net.Conn
	spliced bool
}

var modes = []mode{
	{"splice", func(c *net.TCPConn) net.Conn { return c }, true},
	{"unwrapped", func(c *net.TCPConn) net.Conn { return transparent{c, c} }, true},
	{"buffered", func(c *net.TCPConn) net.Conn { return opaque{c} }, false},
}

// transparent is a wrapper that lets Pipe reach its socket.
type transparent struct {
	net.Conn
	tc *net.TCPConn
}

func (t transparent) TCP() *net.TCPConn { return t.tc }

// opaque hides the socket's type, which forces the buffered path; it still
// half-closes through the promoted CloseWrite.
type opaque struct{ *net.TCPConn }

// rig is one client connected through a proxy running Pipe to an upstream.
type rig struct {
	client *net.TCPConn
	result chan Result
}

// startPipe starts an upstream server that runs handle on its one
// connection, a proxy that pipes one accepted connection to it, and dials
// the proxy.
func startPipe(ctx context.Context, t testing.TB, m mode, handle func(*net.TCPConn), prefix []byte, o Options) rig {
	t.Helper()
	up := listen(t)
	go func() {
		c, err := up.Accept()
		if err != nil {
			t.Errorf("upstream accept: %v", err)
			return
		}
		defer c.Close()
		handle(c.(*net.TCPConn))
	}()
	front := listen(t)
	r := rig{result: make(chan Result, 1)}
	go func() {
		c, err := front.Accept()
		if err != nil {
			t.Errorf("proxy accept: %v", err)
			return
		}
		u, err := net.Dial("tcp", up.Addr().String())
		if err != nil {
			t.Errorf("proxy dial: %v", err)
			c.Close()
			return
		}
		r.result <- Pipe(ctx, m.wrap(c.(*net.TCPConn)), m.wrap(u.(*net.TCPConn)), prefix, o)
	}()
	c, err := net.Dial("tcp", front.Addr().String())
	if err != nil {
		t.Fatalf("client dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	r.client = c.(*net.TCPConn)
	return r
}

func listen(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// wait returns the pipe's result, failing the test after a bounded wait.
func (r rig) wait(t testing.TB) Result {
	t.Helper()
	select {
	case res := <-r.result:
		return res
	case <-time.After(10 * time.Second):
		t.Fatal("pipe did not end")
		return Result{}
	}
}

// readAll reads c to EOF with a bounded deadline.
func readAll(t testing.TB, c net.Conn) string {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	b, err := io.ReadAll(c)
	if err != nil {
		t.Errorf("read all: %v", err)
	}
	return string(b)
}

// echo copies c back to itself through a buffer and half-closes at EOF.
func echo(c *net.TCPConn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			_ = c.CloseWrite()
			return
		}
	}
}

// drain reads c until EOF or error.
func drain(c *net.TCPConn) {
	_, _ = io.Copy(io.Discard, struct{ io.Reader }{c})
}

// closedOrReset reports whether a read on c ends with EOF or a reset
// within a bounded time (not a deadline).
func closedOrReset(t testing.TB, c net.Conn) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err := io.Copy(io.Discard, c)
	if isTimeout(err) || errors.Is(err, net.ErrClosed) {
		t.Errorf("client was not closed by the proxy: %v", err)
	}
}
