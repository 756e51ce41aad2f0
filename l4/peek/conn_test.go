package peek

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"testing"
)

// tcpPair returns both ends of a loopback TCP connection.
func tcpPair(t testing.TB) (client, server *net.TCPConn) {
	t.Helper()
	ln := listen(t)
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	client = dialRaw(t, ln)
	s := wait(t, accepted)
	if s == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { s.Close() })
	return client, s.(*net.TCPConn)
}

func TestConnReplaysThenReads(t *testing.T) {
	client, server := tcpPair(t)
	c := NewConn(server, []byte("hello, "))
	if c.TCP() != server || c.NetConn() != server || c.Buffered() != 7 {
		t.Fatalf("TCP %v, Buffered %d", c.TCP(), c.Buffered())
	}
	if _, err := client.Write([]byte("world")); err != nil {
		t.Fatal(err)
	}
	client.CloseWrite()
	small := make([]byte, 3)
	n, err := c.Read(small)
	if n != 3 || err != nil || string(small) != "hel" {
		t.Fatalf("first read %q, %v", small[:n], err)
	}
	rest, err := io.ReadAll(c)
	if err != nil || string(rest) != "lo, world" {
		t.Fatalf("rest %q, %v", rest, err)
	}
	if c.Buffered() != 0 {
		t.Fatalf("Buffered = %d after draining", c.Buffered())
	}
}

// TestConnCopyToTCP copies a peeked connection into another socket with
// io.Copy, as the L4 proxy does, and checks every byte arrives in order.
func TestConnCopyToTCP(t *testing.T) {
	srcClient, srcServer := tcpPair(t)
	dstClient, dstServer := tcpPair(t)
	payload := make([]byte, 1<<20)
	rand.Read(payload)
	head := []byte("peeked-bytes|")
	go func() {
		srcClient.Write(payload)
		srcClient.CloseWrite()
	}()
	received := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(dstServer)
		received <- b
	}()
	n, err := io.Copy(dstClient, NewConn(srcServer, head))
	if err != nil || n != int64(len(head)+len(payload)) {
		t.Fatalf("copied %d, %v", n, err)
	}
	dstClient.CloseWrite()
	if got := wait(t, received); !bytes.Equal(got, append(head, payload...)) {
		t.Fatalf("received %d bytes, want %d, or out of order", len(got), len(head)+len(payload))
	}
}

// readerFromRecorder notes what reader WriteTo hands it.
type readerFromRecorder struct {
	bytes.Buffer
	src io.Reader
}

func (r *readerFromRecorder) ReadFrom(src io.Reader) (int64, error) {
	r.src = src
	return r.Buffer.ReadFrom(src)
}

// TestConnWriteToHandsOverSocket checks that after the replay WriteTo gives
// a ReaderFrom the raw *net.TCPConn: what net needs to use splice(2).
func TestConnWriteToHandsOverSocket(t *testing.T) {
	client, server := tcpPair(t)
	client.Write([]byte("tail"))
	client.CloseWrite()
	var rec readerFromRecorder
	n, err := NewConn(server, []byte("head-")).WriteTo(&rec)
	if err != nil || n != 9 || rec.String() != "head-tail" {
		t.Fatalf("WriteTo = %d, %v, %q", n, err, rec.String())
	}
	if rec.src != server {
		t.Fatalf("ReadFrom got %T, want the *net.TCPConn", rec.src)
	}
}

func TestConnNotTCP(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	c := NewConn(b, []byte("x"))
	if c.TCP() != nil {
		t.Fatal("TCP() of a pipe is not nil")
	}
	if err := c.CloseWrite(); !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("CloseWrite on a pipe: %v", err)
	}
	go func() {
		a.Write([]byte("yz"))
		a.Close()
	}()
	var out bytes.Buffer
	if n, err := c.WriteTo(&out); err != nil || n != 3 || out.String() != "xyz" {
		t.Fatalf("WriteTo = %d, %v, %q", n, err, out.String())
	}
}

func TestConnCloseWriteAndNesting(t *testing.T) {
	client, server := tcpPair(t)
	inner := NewConn(server, []byte("abcdef"))
	first := make([]byte, 2)
	io.ReadFull(inner, first) // "ab" consumed by a second peek
	outer := NewConn(inner, first)
	if outer.TCP() != server {
		t.Fatal("nested Conn lost the socket")
	}
	client.Write([]byte("gh"))
	if err := outer.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	if b, err := io.ReadAll(client); err != nil || len(b) != 0 {
		t.Fatalf("client after CloseWrite read %q, %v", b, err)
	}
	client.CloseWrite()
	got, err := io.ReadAll(outer)
	if err != nil || string(got) != "abcdefgh" {
		t.Fatalf("nested read %q, %v", got, err)
	}
}
