package proxyproto

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"
)

func TestTimeouts(t *testing.T) {
	const short = 50 * time.Millisecond
	t.Run("silent peer under require", func(t *testing.T) {
		h := start(t, Options{Trusted: loopback, Policy: Require, Timeout: short}, readAll)
		c := h.dial(t)
		h.expect(t, ReasonTimeout, "")
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.ReadAll(c); err != nil {
			t.Fatalf("client did not see the close: %v", err)
		}
	})
	t.Run("stall inside header", func(t *testing.T) {
		h := start(t, Options{Trusted: loopback, Policy: Use, Timeout: short}, readAll)
		h.dial(t, []byte("PROXY TCP4 192.0"))
		h.expect(t, ReasonTimeout, "")
	})
	t.Run("application deadline earlier than timeout", func(t *testing.T) {
		h := start(t, Options{Trusted: loopback, Policy: Require, Timeout: time.Minute}, func(c *Conn) served {
			_ = c.SetReadDeadline(time.Now().Add(short))
			return readAll(c)
		})
		h.dial(t)
		h.expect(t, ReasonTimeout, "")
	})
	t.Run("application deadline restored after header", func(t *testing.T) {
		h := start(t, Options{Trusted: loopback, Policy: Use, Timeout: short}, func(c *Conn) served {
			_ = c.SetReadDeadline(time.Now().Add(4 * short))
			return readAll(c)
		})
		h.dial(t)
		// The silent peer passes the header phase as headerless; the
		// application's own deadline must then end its read.
		if r := h.result(t); !errors.Is(r.err, os.ErrDeadlineExceeded) {
			t.Fatalf("read err %v, want the application's deadline", r.err)
		}
	})
	t.Run("slow header within timeout", func(t *testing.T) {
		h := start(t, Options{Trusted: loopback, Policy: Require, Timeout: 10 * time.Second}, readAll)
		c := h.dial(t)
		// One byte per write, paced so the reads really arrive apart.
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for _, b := range append(append([]byte(nil), hdrV1...), "hello"...) {
			<-tick.C
			if _, err := c.Write([]byte{b}); err != nil {
				t.Fatal(err)
			}
		}
		_ = c.CloseWrite()
		h.expect(t, "", "192.0.2.1:56324")
	})
}

// TestSilentPeerWithoutHeader: under Use (and for untrusted peers) a peer
// that sends nothing within Timeout is taken as headerless, and the header
// deadline is lifted: data sent afterwards is read normally.
func TestSilentPeerWithoutHeader(t *testing.T) {
	for name, o := range map[string]Options{
		"trusted use": {Trusted: loopback, Policy: Use, Timeout: 50 * time.Millisecond},
		"untrusted":   {Trusted: elsewhere, Timeout: 50 * time.Millisecond},
	} {
		t.Run(name, func(t *testing.T) {
			decided := make(chan struct{})
			h := start(t, o, func(c *Conn) served {
				if hdr := c.ProxyHeader(); hdr != nil {
					return served{err: errors.New("unexpected header")}
				}
				close(decided)
				return readAll(c)
			})
			c := h.dial(t)
			select {
			case <-decided:
			case <-time.After(5 * time.Second):
				t.Fatal("header phase did not end")
			}
			if _, err := c.Write([]byte("hello")); err != nil {
				t.Fatal(err)
			}
			_ = c.CloseWrite()
			h.expect(t, "", c.LocalAddr().String())
		})
	}
}

// TestAcceptDoesNotWait: a silent trusted peer must not hold up Accept for
// the next connection.
func TestAcceptDoesNotWait(t *testing.T) {
	h := start(t, Options{Trusted: loopback, Policy: Require, Timeout: time.Minute}, readAll)
	silent := h.dial(t)
	_ = h.dial(t, hdrV2, []byte("hello")).CloseWrite()
	h.expect(t, "", "192.0.2.1:56324")
	_ = silent.Close()
}

// TestSpliceAndHalfClose copies from the Conn to an upstream socket with
// io.Copy (bytes buffered behind the header first, then the socket), writes
// back through ReadFrom, and half-closes.
func TestSpliceAndHalfClose(t *testing.T) {
	up, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer up.Close()
	got := make(chan string, 1)
	go func() {
		c, err := up.Accept()
		if err != nil {
			got <- err.Error()
			return
		}
		defer c.Close()
		b, _ := io.ReadAll(c)
		got <- string(b)
	}()
	h := start(t, Options{Trusted: loopback, Policy: Require}, func(c *Conn) served {
		if c.ProxyHeader() == nil {
			return served{err: errors.New("no header")}
		}
		u, err := net.Dial("tcp", up.Addr().String())
		if err != nil {
			return served{err: err}
		}
		defer u.Close()
		if _, err := io.Copy(u, c); err != nil {
			return served{err: err}
		}
		if c.TCP() == nil {
			return served{err: errors.New("TCP() is nil once the buffer is drained")}
		}
		_ = u.(*net.TCPConn).CloseWrite()
		if _, err := io.Copy(c, strings.NewReader("bye")); err != nil {
			return served{err: err}
		}
		return served{remote: c.RemoteAddr(), data: <-got, err: c.CloseWrite()}
	})
	c := h.dial(t, append(append([]byte(nil), hdrV1...), "hel"...), []byte("lo"))
	_ = c.CloseWrite()
	h.expect(t, "", "192.0.2.1:56324")
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if b, err := io.ReadAll(c); err != nil || string(b) != "bye" {
		t.Fatalf("client read %q, %v; want bye then EOF", b, err)
	}
}

// TCP never offers the socket while bytes read past the header wait in
// the Conn's buffer: a reader of the raw socket would skip them.
func TestTCPWithheldWhileBuffered(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	pl := NewListener(ln, Options{Trusted: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, Policy: Use})
	cli, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	if _, err := cli.Write([]byte("PROXY TCP4 192.0.2.1 192.0.2.2 1000 80\r\nhello")); err != nil {
		t.Fatal(err)
	}
	sc, err := pl.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	c := sc.(*Conn)
	buf := make([]byte, 2)
	if _, err := io.ReadFull(c, buf); err != nil {
		t.Fatal(err)
	}
	// "he" read; unless the kernel split the segment, "llo" is buffered.
	if c.br.Buffered() > 0 && c.TCP() != nil {
		t.Fatal("TCP() offered the socket with bytes still buffered")
	}
	rest := make([]byte, 3)
	if _, err := io.ReadFull(c, rest); err != nil || string(rest) != "llo" {
		t.Fatalf("rest %q %v", rest, err)
	}
	if c.TCP() == nil {
		t.Fatal("TCP() is nil with the buffer drained")
	}
}
