package udpproxy

import (
	"bytes"
	"context"
	"net"
	"runtime"
	"strconv"
	"testing"
)

// On a socket bound to a wildcard address, a reply leaves from the address
// the client sent to, not from the one routing prefers: a client connected
// to 127.0.0.2 (routing would answer from 127.0.0.1) gets its echo.
func TestReplyFromDestinationAddress(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("destination addresses are read on Linux only")
	}
	for _, tc := range []struct{ network, addr string }{
		{"udp4", "0.0.0.0:0"}, // IP_PKTINFO
		{"udp", ":0"},         // dual-stack IPv6 socket: IPV6_PKTINFO, IPv4-mapped
	} {
		t.Run(tc.network, func(t *testing.T) {
			echo := startEcho(t)
			pc, err := net.ListenPacket(tc.network, tc.addr)
			if err != nil {
				t.Fatalf("listen: %v", err)
			}
			p := New(pc, alternate(echo.addr()), Options{})
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() {
				_ = p.Serve(ctx)
				close(done)
			}()
			t.Cleanup(func() {
				cancel()
				<-done
				pc.Close()
			})
			port := pc.LocalAddr().(*net.UDPAddr).Port
			c := dialClient(t, net.JoinHostPort("127.0.0.2", strconv.Itoa(port)))
			for _, msg := range []string{"first", "second"} {
				got, err := roundTrip(c, []byte(msg))
				if err != nil {
					t.Fatalf("%s: %v", msg, err)
				}
				if !bytes.Equal(got, []byte(msg)) {
					t.Fatalf("got %q, want %q", got, msg)
				}
			}
		})
	}
}
