package tcpproxy

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"net"
	"syscall"
	"testing"
	"time"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// block is the pseudo-random unit streams are made of.
var block = func() []byte {
	b := make([]byte, 1<<20)
	_, _ = rand.NewChaCha8([32]byte{42}).Read(b)
	return b
}()

// sendStream writes size bytes to w (size a multiple of len(block)): blocks
// whose first bytes carry seed and the block's index, so a lost, repeated
// or reordered block changes the checksum. It returns the checksum.
func sendStream(w io.Writer, seed byte, size int64) (uint64, error) {
	h := crc32.New(castagnoli)
	buf := bytes.Clone(block)
	for i := range size / int64(len(buf)) {
		buf[0] = seed
		binary.LittleEndian.PutUint64(buf[1:], uint64(i))
		_, _ = h.Write(buf)
		if _, err := w.Write(buf); err != nil {
			return 0, err
		}
	}
	return uint64(h.Sum32()), nil
}

// sumStream reads r to EOF and returns the byte count and checksum.
func sumStream(r io.Reader) (int64, uint64, error) {
	h := crc32.New(castagnoli)
	n, err := io.CopyBuffer(h, struct{ io.Reader }{r}, make([]byte, 256<<10))
	return n, uint64(h.Sum32()), err
}

type streamSum struct {
	n   int64
	sum uint64
	err error
}

// TestPipeLargeTransfer moves 64 MiB each way at once and checks both
// streams end to end, and which copy path carried them.
func TestPipeLargeTransfer(t *testing.T) {
	const size = 64 << 20
	for _, m := range []mode{modes[0], modes[2]} {
		t.Run(m.name, func(t *testing.T) {
			upGot := make(chan streamSum, 1)
			handle := func(c *net.TCPConn) {
				sent := make(chan struct{})
				go func() {
					_, _ = sendStream(c, 2, size) // the client's checksum judges it
					_ = c.CloseWrite()
					close(sent)
				}()
				n, sum, err := sumStream(c)
				upGot <- streamSum{n, sum, err}
				<-sent // keep c open until the reply is written
			}
			stats := new(Stats)
			r := startPipe(t.Context(), t, m, handle, nil, Options{IdleTimeout: 10 * time.Second, Stats: stats})
			_ = r.client.SetDeadline(time.Now().Add(60 * time.Second))
			clientGot := make(chan streamSum, 1)
			go func() {
				n, sum, err := sumStream(r.client)
				clientGot <- streamSum{n, sum, err}
			}()
			sent, err := sendStream(r.client, 1, size)
			if err != nil {
				t.Fatalf("client send: %v", err)
			}
			_ = r.client.CloseWrite()
			checkStream(t, "client to upstream", <-upGot, streamSum{size, sent, nil})
			back, _ := sendStream(io.Discard, 2, size)
			checkStream(t, "upstream to client", <-clientGot, streamSum{size, back, nil})
			res := r.wait(t)
			if res.BytesIn != size || res.BytesOut != size || res.Spliced != m.spliced {
				t.Errorf("result = %+v", res)
			}
			// On the splice path each direction copies through its buffer
			// until a read fills it (at most a few reads), then splices.
			spliced, buffered := stats.SplicedBytes.Load(), stats.BufferedBytes.Load()
			if m.spliced && (spliced+buffered != 2*size || buffered > 2*8*defaultBufferSize || spliced < 2*size-2*8*defaultBufferSize) ||
				!m.spliced && (spliced != 0 || buffered != 2*size) {
				t.Errorf("stats: spliced %d buffered %d bytes", spliced, buffered)
			}
		})
	}
}

func checkStream(t *testing.T, name string, got, want streamSum) {
	t.Helper()
	if got != want {
		t.Errorf("%s: got %d bytes sum %x err %v, want %d bytes sum %x", name, got.n, got.sum, got.err, want.n, want.sum)
	}
}

// TestPipeResetWhileStreaming resets the upstream while the client is
// writing to it, so the failure may surface on the write side of a splice.
func TestPipeResetWhileStreaming(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			handle := func(c *net.TCPConn) {
				_, _ = io.CopyN(io.Discard, c, 1<<20)
				_ = c.SetLinger(0)
			}
			r := startPipe(t.Context(), t, m, handle, nil, Options{})
			go func() {
				_, _ = sendStream(r.client, 3, 1<<34)
			}()
			if res := r.wait(t); res.Reason != ReasonUpstreamError {
				t.Errorf("reason = %s, want %s", res.Reason, ReasonUpstreamError)
			}
		})
	}
}

// TestBlame checks the attribution of splice errors against sockets the
// kernel really reset.
func TestBlame(t *testing.T) {
	healthy, _ := tcpPair(t)
	reset, peer := tcpPair(t)
	_ = peer.SetLinger(0)
	_ = peer.Close()
	poll := time.NewTicker(time.Millisecond)
	defer poll.Stop()
	deadline := time.Now().Add(5 * time.Second)
	for !tcpClosed(reset) {
		if time.Now().After(deadline) {
			t.Fatal("socket never reached TCP_CLOSE after a reset")
		}
		<-poll.C
	}
	if tcpClosed(healthy) {
		t.Fatal("healthy socket reported closed")
	}
	reset1 := &net.OpError{Op: "readfrom", Err: syscall.ECONNRESET}
	pipeErr := &net.OpError{Op: "readfrom", Err: syscall.EPIPE}
	cases := []struct {
		name     string
		src, dst *net.TCPConn
		err      error
		want     side
	}{
		{"dst reset", healthy, reset, reset1, sideDst},
		{"src reset", reset, healthy, reset1, sideSrc},
		{"broken pipe", healthy, healthy, pipeErr, sideDst},
		{"unknown", healthy, healthy, errors.New("other"), sideSrc},
	}
	for _, c := range cases {
		d := &direction{srcTCP: c.src, dstTCP: c.dst}
		if got := d.blame(c.err); got != c.want {
			t.Errorf("%s: blame = %d, want %d", c.name, got, c.want)
		}
	}
}

// tcpPair returns both ends of a loopback TCP connection.
func tcpPair(t *testing.T) (*net.TCPConn, *net.TCPConn) {
	t.Helper()
	ln := listen(t)
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	a := <-accepted
	if a == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { c.Close(); a.Close() })
	return c.(*net.TCPConn), a.(*net.TCPConn)
}

// A short exchange between two TCP sockets is not spliced: it goes
// through the buffer, one read and one write each way.
func TestSmallExchangeNotSpliced(t *testing.T) {
	stats := &Stats{}
	r := startPipe(t.Context(), t, modes[0], echo, nil, Options{Stats: stats})
	if _, err := r.client.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	_ = r.client.CloseWrite()
	if got := readAll(t, r.client); got != "ping" {
		t.Fatalf("echo %q", got)
	}
	if res := r.wait(t); !res.Spliced || stats.SplicedBytes.Load() != 0 || stats.BufferedBytes.Load() != 8 {
		t.Errorf("result %+v, spliced %d, buffered %d bytes", res, stats.SplicedBytes.Load(), stats.BufferedBytes.Load())
	}
}
