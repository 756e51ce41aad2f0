package main

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"
)

// startL4 serves a source and two echoes on loopback ports of the kernel's
// choice and returns their addresses.
func startL4(t *testing.T) (source string, echoes []string) {
	t.Helper()
	srvs, err := listenL4("127.0.0.1:0", "127.0.0.1:0, 127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if len(srvs) != 3 {
		t.Fatalf("%d servers, want 3", len(srvs))
	}
	for _, s := range srvs {
		go s.serve()
		t.Cleanup(func() { s.ln.Close() })
	}
	return srvs[0].ln.Addr().String(), []string{srvs[1].ln.Addr().String(), srvs[2].ln.Addr().String()}
}

func TestSource(t *testing.T) {
	src, _ := startL4(t)
	c, err := net.Dial("tcp", src)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 3*sourceChunk+100)
	if _, err := io.ReadFull(c, buf); err != nil {
		t.Fatalf("read %d bytes: %v", len(buf), err)
	}
	if buf[0] != 'a' || buf[27] != 'b' || !bytes.Equal(buf[:sourceChunk], buf[sourceChunk:2*sourceChunk]) {
		t.Fatalf("stream is not the repeated chunk: %q", buf[:30])
	}
}

func TestEcho(t *testing.T) {
	_, echoes := startL4(t)
	for _, addr := range echoes {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		msg := bytes.Repeat([]byte("0123456789abcdef"), 4)
		if _, err := c.Write(msg); err != nil {
			t.Fatal(err)
		}
		// Half-close: the echo still answers, then closes.
		c.(*net.TCPConn).CloseWrite()
		got, err := io.ReadAll(c)
		c.Close()
		if err != nil || !bytes.Equal(got, msg) {
			t.Fatalf("%s: echoed %q, %v", addr, got, err)
		}
	}
}

func TestListenL4Errors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if _, err := listenL4("", "127.0.0.1:0,"+ln.Addr().String()); err == nil {
		t.Fatal("listening on a taken port succeeded")
	}
	srvs, err := listenL4("", "")
	if err != nil || len(srvs) != 0 {
		t.Fatalf("no addresses: %d servers, %v", len(srvs), err)
	}
}
