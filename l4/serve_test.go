package l4

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bouncer-proxy/bouncer/configs"
	"github.com/bouncer-proxy/bouncer/l4/upstream"
)

// A connection routed on a table a reload has just replaced reaches Serve
// after Retain removed its upstream: it is closed at once, logged as
// upstream_removed, and the removed upstream is never dialed.
func TestServeAfterUpstreamRemoved(t *testing.T) {
	backend, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer backend.Close()
	var dialed atomic.Int32
	go func() {
		for {
			c, err := backend.Accept()
			if err != nil {
				return
			}
			dialed.Add(1)
			c.Close()
		}
	}()
	reg := upstream.NewRegistry(upstream.Options{})
	defer reg.Close()
	cfg, err := configs.Parse([]byte(`listeners: [{name: db, address: "127.0.0.1:0", protocols: [tcp]}]
l4_routes: [{tcp: {upstream: gone}}]
upstreams:
  gone: {endpoints: ["`+backend.Addr().String()+`"]}
`), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cluster, err := reg.Build("gone", cfg.Upstreams["gone"])
	if err != nil {
		t.Fatal(err)
	}
	reg.Activate(map[string]*upstream.Cluster{"gone": cluster})

	var logged bytes.Buffer
	s := &Server{Log: slog.New(slog.NewJSONHandler(&logged, nil))}
	s.Retain(map[string]bool{"other": true}) // the reload that removed "gone"

	client, server := tcpPair(t)
	rt := &Route{Name: "r", Kind: "tcp", Cluster: cluster, Tries: 1, Connect: time.Second, AccessLog: true}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second) // a regression ends, not hangs
	defer cancel()
	s.Serve(ctx, rt, &Conn{Listener: "db", Raw: server, Client: netip.MustParseAddrPort("127.0.0.1:1")})

	_ = client.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := client.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Fatalf("client socket after Serve: %d, %v; want it closed", n, err)
	}
	if !strings.Contains(logged.String(), `"close":"upstream_removed"`) {
		t.Fatalf("access log %s, want close upstream_removed", logged.String())
	}
	if n := dialed.Load(); n != 0 {
		t.Fatalf("the removed upstream was dialed %d times", n)
	}
}

// tcpPair returns the two ends of a loopback TCP connection.
func tcpPair(t *testing.T) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server, err = ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}
