package testsvc

import (
	"net"
	"testing"
)

// Serve runs handle on every connection ln accepts, each on its own
// goroutine and closed when handle returns, until the test ends (ln is
// closed then). It returns ln's address.
func Serve(t testing.TB, ln net.Listener, handle func(net.Conn)) string {
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				handle(c)
			}()
		}
	}()
	return ln.Addr().String()
}

// ServeTCP is Serve on a fresh TCP listener on 127.0.0.1, port of the
// kernel's choice.
func ServeTCP(t testing.TB, handle func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return Serve(t, ln, handle)
}
