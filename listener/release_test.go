package listener

import (
	"net"
	"testing"
)

// TestOnClose: the slot comes back once however often the connection is
// closed, and the TCP socket underneath stays reachable for the L4 pipe.
func TestOnClose(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	released := 0
	rc := OnClose(c, func() { released++ })
	if rc.TCP() != c.(*net.TCPConn) {
		t.Error("TCP() does not reach the socket underneath")
	}
	if err := rc.CloseWrite(); err != nil {
		t.Errorf("CloseWrite: %v", err)
	}
	_ = rc.Close()
	_ = rc.Close()
	if released != 1 {
		t.Errorf("released %d times, want 1", released)
	}
	if OnClose(struct{ net.Conn }{c}, func() {}).TCP() != nil {
		t.Error("TCP() of a connection without a socket")
	}
}
