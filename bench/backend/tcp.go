package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
)

// sourceChunk is the preallocated buffer a TCP source writes again and
// again: big enough that one write call moves much data, so the source's
// own CPU per byte stays small next to the proxy's.
const sourceChunk = 1 << 20

// tcpServer is a plain TCP service of the backend: a source or an echo.
type tcpServer struct {
	ln     net.Listener
	handle func(net.Conn)
}

// listenTCP listens on each address of the comma-separated list addrs
// (none when it is empty) and returns a server per address that handles
// each connection with handle.
func listenTCP(addrs string, handle func(net.Conn)) ([]*tcpServer, error) {
	var out []*tcpServer
	for a := range strings.SplitSeq(addrs, ",") {
		if a = strings.TrimSpace(a); a == "" {
			continue
		}
		ln, err := net.Listen("tcp", a)
		if err != nil {
			for _, s := range out {
				s.ln.Close()
			}
			return nil, fmt.Errorf("listen %s: %w", a, err)
		}
		out = append(out, &tcpServer{ln: ln, handle: handle})
	}
	return out, nil
}

// serve accepts until the listener is closed, then returns nil; another
// accept error is returned.
func (s *tcpServer) serve() error {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			return fmt.Errorf("accept %s: %w", s.ln.Addr(), err)
		}
		go s.handle(c)
	}
}

// newSource returns a handler that writes an endless stream of bytes to
// each connection, the same preallocated chunk every time, until the
// client goes away. What the client sends is never read.
func newSource() func(net.Conn) {
	chunk := make([]byte, sourceChunk)
	for i := range chunk {
		chunk[i] = byte('a' + i%26)
	}
	return func(c net.Conn) {
		defer c.Close()
		for {
			if _, err := c.Write(chunk); err != nil {
				return
			}
		}
	}
}

// echo writes back everything it reads, until the client closes its side;
// then it closes the connection.
func echo(c net.Conn) {
	defer c.Close()
	io.Copy(c, c)
}
