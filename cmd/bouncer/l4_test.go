package main

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bouncer-proxy/bouncer/internal/testsvc"
	"github.com/bouncer-proxy/bouncer/listener/proxyproto"
	"github.com/bouncer-proxy/bouncer/tls/certstest"
)

// tcpBackend answers each line with "<name>: <line>" and, when the
// client shuts its write side, one last "<name>: bye" before closing. With
// readProxy it first reads a PROXY header and answers with its source.
func tcpBackend(t *testing.T, name string, readProxy bool) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return serveAll(t, ln, func(c net.Conn) { serveLines(c, name, readProxy) })
}

// serveAll runs serve on every connection ln accepts until the test ends,
// and returns ln's address.
func serveAll(t *testing.T, ln net.Listener, serve func(net.Conn)) string {
	return testsvc.Serve(t, ln, serve)
}

func serveLines(c net.Conn, name string, readProxy bool) {
	defer c.Close()
	br := bufio.NewReader(c)
	if readProxy {
		h, err := proxyproto.Read(br)
		if err != nil || h == nil {
			fmt.Fprintf(c, "%s: no proxy header (%v)\n", name, err)
			return
		}
		sni, _ := h.Authority()
		fmt.Fprintf(c, "%s: from %s sni=%s\n", name, h.Source.Addr(), sni)
	}
	for {
		line, err := br.ReadString('\n')
		if err == io.EOF {
			fmt.Fprintf(c, "%s: bye\n", name)
			return
		}
		if err != nil {
			return
		}
		fmt.Fprintf(c, "%s: %s", name, line)
	}
}

// tlsBackend is tcpBackend behind TLS with a certificate for name.
func tlsBackend(t *testing.T, ca *certstest.CA, name string) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{ca.TLSCert(t, name)}})
	if err != nil {
		t.Fatal(err)
	}
	return serveAll(t, ln, func(c net.Conn) { serveLines(c, name, false) })
}

// lineClient sends line on c and returns the reply line.
func lineClient(t *testing.T, c net.Conn, line string) string {
	t.Helper()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, line+"\n"); err != nil {
		t.Fatal(err)
	}
	reply, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatalf("reading the reply to %q: %v", line, err)
	}
	return strings.TrimSpace(reply)
}

// TestL4SharedPort: one port carries HTTP (to an HTTP route), raw TCP
// (to a line service) and TLS passthrough chosen by SNI among three
// backends whose own certificates the client verifies.
func TestL4SharedPort(t *testing.T) {
	ca := certstest.NewCA(t)
	raw := tcpBackend(t, "raw", false)
	a, b, c := tlsBackend(t, ca, "a.test"), tlsBackend(t, ca, "b.test"), tlsBackend(t, ca, "c.other.test")
	p := startConfig(t, fmt.Sprintf(`admin: {address: "127.0.0.1:0"}
listeners:
  - {name: edge, address: "127.0.0.1:0", protocols: [tcp, http1, h2c]}
routes:
  - respond: {status: 200, body: "http"}
l4_routes:
  - {name: a, match: {sni: [a.test]}, passthrough: {upstream: a}}
  - {name: b, match: {sni: [b.test]}, passthrough: {upstream: b}}
  - {name: c, match: {sni: ["*.other.test"]}, passthrough: {upstream: c}}
  - {name: raw, match: {tls: false}, tcp: {upstream: raw}}
upstreams:
  a: {endpoints: [%q]}
  b: {endpoints: [%q]}
  c: {endpoints: [%q]}
  raw: {endpoints: [%q]}
`, a, b, c, raw))
	addr := hostPort(p.url("edge"))

	if st, body := httpDo(t, "GET", p.url("edge")+"/"); st != 200 || body != "http" {
		t.Errorf("HTTP on the shared port: %d %q", st, body)
	}
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	if got := lineClient(t, conn, "ping"); got != "raw: ping" {
		t.Errorf("raw TCP: %q", got)
	}
	conn.Close()
	for _, name := range []string{"a.test", "b.test", "c.other.test"} {
		tc, err := tls.Dial("tcp", addr, &tls.Config{ServerName: name, RootCAs: ca.Pool})
		if err != nil {
			t.Fatalf("passthrough to %s: %v", name, err)
		}
		if got := lineClient(t, tc, "hi"); got != name+": hi" {
			t.Errorf("passthrough to %s answered %q", name, got)
		}
		tc.Close()
	}
}

// TestL4HalfClose: a client that shuts its write side still gets the
// backend's last words.
func TestL4HalfClose(t *testing.T) {
	raw := tcpBackend(t, "raw", false)
	p := startConfig(t, fmt.Sprintf(`admin: {address: "127.0.0.1:0"}
listeners:
  - {name: db, address: "127.0.0.1:0", protocols: [tcp]}
l4_routes:
  - tcp: {upstream: raw}
upstreams:
  raw: {endpoints: [%q]}
`, raw))
	c, err := net.Dial("tcp", hostPort(p.url("db")))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, "one\n")
	c.(*net.TCPConn).CloseWrite()
	all, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	if string(all) != "raw: one\nraw: bye\n" {
		t.Errorf("after a half-close the client read %q", all)
	}
}

// TestL4ClosedWhenNotServed: a connection whose upstream refuses it (no
// endpoint accepts, or the upstream's max_connections is reached) is
// closed at once, and counted under its reason.
func TestL4ClosedWhenNotServed(t *testing.T) {
	raw := tcpBackend(t, "raw", false)
	gone, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	goneAddr := gone.Addr().String()
	gone.Close() // nothing listens there any more
	p := startConfig(t, fmt.Sprintf(`admin: {address: "127.0.0.1:0"}
listeners:
  - {name: down, address: "127.0.0.1:0", protocols: [tcp]}
  - {name: capped, address: "127.0.0.1:0", protocols: [tcp]}
l4_routes:
  - {name: down, listeners: [down], tcp: {upstream: gone}}
  - {name: capped, listeners: [capped], tcp: {upstream: one}}
upstreams:
  gone: {endpoints: [%q]}
  one:
    endpoints: [%q]
    circuit_breaker: {max_connections: 1}
`, goneAddr, raw))
	closedAtOnce := func(addr string) {
		t.Helper()
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		if n, err := c.Read(make([]byte, 1)); n != 0 || err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("%s: read %d bytes, %v; want the connection closed", addr, n, err)
		}
	}
	closedAtOnce(hostPort(p.url("down")))

	held, err := net.Dial("tcp", hostPort(p.url("capped")))
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	if got := lineClient(t, held, "first"); got != "raw: first" {
		t.Fatalf("first connection: %q", got)
	}
	closedAtOnce(hostPort(p.url("capped")))

	_, metrics := p.adminGet("/metrics")
	for _, want := range []string{
		`bouncer_l4_connections_total{listener="down",reason="connect_failed",route="down"} 1`,
		`bouncer_l4_connections_total{listener="capped",reason="upstream_max_connections",route="capped"} 1`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// TestL4ProxyProtocolOut: an upstream with proxy_protocol v2 learns the
// client's address and the server name.
func TestL4ProxyProtocolOut(t *testing.T) {
	ca := certstest.NewCA(t)
	pp := tcpBackend(t, "pp", true)
	cfg := filepath.Join(t.TempDir(), "bouncer.yaml")
	dir := t.TempDir()
	leaf := ca.Leaf(t, dir, "edge", "ecdsa", "edge", "mqtt.test")
	writeFile(t, cfg, fmt.Sprintf(`admin: {address: "127.0.0.1:0"}
listeners:
  - {name: edge, address: "127.0.0.1:0", protocols: [tcp], tls: {cert_file: %q, key_file: %q}}
l4_routes:
  - {match: {sni: [mqtt.test]}, terminate: {upstream: pp}}
upstreams:
  pp: {endpoints: [%q], proxy_protocol: v2}
`, leaf.CertFile, leaf.KeyFile, pp))
	p := startBouncer(t, cfg)
	addr := hostPort(p.url("edge"))
	tc, err := tls.Dial("tcp", addr, &tls.Config{ServerName: "mqtt.test", RootCAs: ca.Pool})
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	_ = tc.SetDeadline(time.Now().Add(5 * time.Second))
	first, err := bufio.NewReader(tc).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(first) != "pp: from 127.0.0.1 sni=mqtt.test" {
		t.Errorf("upstream saw %q", first)
	}
}

// TestL4PeekDeadlineAndCaps: a silent connection is closed at the peek
// deadline while another is served meanwhile; a client over its
// per-address cap is closed at once; and a PROXY header from a peer that
// is not trusted is refused.
func TestL4PeekDeadlineAndCaps(t *testing.T) {
	raw := tcpBackend(t, "raw", false)
	p := startConfig(t, fmt.Sprintf(`admin: {address: "127.0.0.1:0"}
listeners:
  - name: edge
    address: "127.0.0.1:0"
    protocols: [tcp, http1]
    l4: {peek_timeout: 300ms, max_connections_per_ip: 2}
    proxy_protocol: {trusted: [10.0.0.0/8]}
routes:
  - respond: {status: 200}
l4_routes:
  - {match: {tls: false}, tcp: {upstream: raw}}
upstreams:
  raw: {endpoints: [%q]}
`, raw))
	addr := hostPort(p.url("edge"))

	silent, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	busy, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	if got := lineClient(t, busy, "hello"); got != "raw: hello" {
		t.Fatalf("served connection: %q", got)
	}
	// Two connections are open: a third from the same address is closed.
	third, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	_ = third.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := third.Read(make([]byte, 1)); err == nil {
		t.Errorf("a connection over the per-address cap was served (%d bytes)", n)
	}
	third.Close()
	// The silent one ends at the peek deadline, not later.
	start := time.Now()
	_ = silent.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := silent.Read(make([]byte, 1)); err == nil {
		t.Error("the silent connection got bytes")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("the silent connection was closed after %v", d)
	}
	busy.Close()
	// A PROXY header from 127.0.0.1, which is not trusted, is a spoof.
	eventually(t, 5*time.Second, "a free slot", func() bool {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return false
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(2 * time.Second))
		io.WriteString(c, "PROXY TCP4 10.9.9.9 127.0.0.1 1234 80\r\nping\n")
		_, err = c.Read(make([]byte, 1))
		return err != nil
	})
}

// udpEcho answers each datagram with "<name>: <datagram>".
func udpEcho(t *testing.T, name string) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 65535)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			_, _ = pc.WriteTo(append([]byte(name+": "), buf[:n]...), from)
		}
	}()
	return pc.LocalAddr().String()
}

// TestL4UDP: datagrams reach an upstream through a udp route and the
// replies come back to the client that sent them, each client keeping its
// endpoint.
func TestL4UDP(t *testing.T) {
	e1, e2 := udpEcho(t, "e1"), udpEcho(t, "e2")
	p := startConfig(t, fmt.Sprintf(`admin: {address: "127.0.0.1:0"}
listeners:
  - {name: web, address: "127.0.0.1:0"}
  - {name: dns, address: "127.0.0.1:0", protocols: [udp]}
routes:
  - respond: {status: 200}
l4_routes:
  # Never matches: the listener is not on port 1.
  - {listeners: [dns], match: {ports: [1]}, udp: {upstream: nowhere}}
  - {listeners: [dns], udp: {upstream: echo}, idle_timeout: 30s}
upstreams:
  echo: {endpoints: [%q, %q], balance: ring_hash}
  nowhere: {endpoints: ["127.0.0.1:9"]}
`, e1, e2))
	addr := hostPort(p.url("dns"))
	if tcp, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		tcp.Close()
		t.Error("a udp-only listener also accepts TCP")
	}
	for i := range 3 {
		c, err := net.Dial("udp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		var first string
		for j := range 3 {
			msg := fmt.Sprintf("q%d-%d", i, j)
			if _, err := c.Write([]byte(msg)); err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 512)
			n, err := c.Read(buf)
			if err != nil {
				t.Fatalf("client %d: %v", i, err)
			}
			name, body, _ := strings.Cut(string(buf[:n]), ": ")
			if body != msg {
				t.Errorf("client %d got %q for %q", i, buf[:n], msg)
			}
			if j == 0 {
				first = name
			} else if name != first {
				t.Errorf("client %d moved from %s to %s within its session", i, first, name)
			}
		}
	}
	if _, body := p.adminGet("/metrics"); !strings.Contains(body, `bouncer_udp_sessions_opened_total{listener="dns"} 3`) ||
		!strings.Contains(body, `bouncer_udp_sessions{listener="dns"} 3`) {
		t.Errorf("udp metrics:\n%s", grepLines(body, "bouncer_udp"))
	}
}

// TestL4DrainOnSIGTERM: an open TCP connection keeps working after
// SIGTERM, and the process exits once it is closed.
func TestL4DrainOnSIGTERM(t *testing.T) {
	raw := tcpBackend(t, "raw", false)
	p := startConfig(t, fmt.Sprintf(`admin: {address: "127.0.0.1:0"}
server: {shutdown_timeout: 20s}
listeners:
  - {name: db, address: "127.0.0.1:0", protocols: [tcp]}
l4_routes:
  - tcp: {upstream: raw}
upstreams:
  raw: {endpoints: [%q]}
`, raw))
	c, err := net.Dial("tcp", hostPort(p.url("db")))
	if err != nil {
		t.Fatal(err)
	}
	if got := lineClient(t, c, "before"); got != "raw: before" {
		t.Fatalf("before SIGTERM: %q", got)
	}
	p.signal(syscall.SIGTERM)
	if got := lineClient(t, c, "after"); got != "raw: after" {
		t.Errorf("after SIGTERM: %q", got)
	}
	select {
	case <-p.exited:
		t.Fatal("bouncer exited while a TCP connection was open")
	default:
	}
	c.Close()
	if code := p.waitExit(15 * time.Second); code != 0 {
		t.Errorf("exit code %d", code)
	}
}

// TestL4TerminateReencrypt: TLS ends at Bouncer with the listener's
// certificate and starts again to the upstream, which Bouncer verifies
// against its CA under server_name; a wrong CA fails the connection.
func TestL4TerminateReencrypt(t *testing.T) {
	edgeCA, backCA := certstest.NewCA(t), certstest.NewCA(t)
	back := tlsBackend(t, backCA, "db.internal")
	dir := t.TempDir()
	leaf := edgeCA.Leaf(t, dir, "edge", "ecdsa", "edge", "db.example.test")
	for _, c := range []struct {
		name, ca string
		ok       bool
	}{
		{"right CA", backCA.CAFile(t, t.TempDir()), true},
		{"wrong CA", edgeCA.CAFile(t, t.TempDir()), false},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := filepath.Join(t.TempDir(), "bouncer.yaml")
			writeFile(t, cfg, fmt.Sprintf(`admin: {address: "127.0.0.1:0"}
listeners:
  - {name: edge, address: "127.0.0.1:0", protocols: [tcp], tls: {cert_file: %q, key_file: %q}}
l4_routes:
  - {terminate: {upstream: db}}
upstreams:
  db: {endpoints: [%q], tls: {ca_file: %q, server_name: db.internal}}
`, leaf.CertFile, leaf.KeyFile, back, c.ca))
			p := startBouncer(t, cfg)
			conn, err := tls.Dial("tcp", hostPort(p.url("edge")), &tls.Config{ServerName: "db.example.test", RootCAs: edgeCA.Pool})
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
			io.WriteString(conn, "select 1\n")
			reply, err := bufio.NewReader(conn).ReadString('\n')
			if c.ok && strings.TrimSpace(reply) != "db.internal: select 1" {
				t.Errorf("reply %q (%v)", reply, err)
			}
			if !c.ok && err == nil {
				t.Errorf("an upstream with an unverifiable certificate answered %q", reply)
			}
		})
	}
}

// TestL4Reload: a reload keeps an established connection on the route it
// started with (its upstream still exists), and ends one whose upstream
// the new config removed.
func TestL4Reload(t *testing.T) {
	one, two := tcpBackend(t, "one", false), tcpBackend(t, "two", false)
	cfg := filepath.Join(t.TempDir(), "bouncer.yaml")
	write := func(up string, extra string) {
		writeFile(t, cfg, fmt.Sprintf(`admin: {address: "127.0.0.1:0"}
listeners:
  - {name: db, address: "127.0.0.1:0", protocols: [tcp]}
l4_routes:
  - tcp: {upstream: %s}
upstreams:
  one: {endpoints: [%q]}
%s`, up, one, extra))
	}
	write("one", fmt.Sprintf("  two: {endpoints: [%q]}\n", two))
	p := startBouncer(t, cfg)
	addr := hostPort(p.url("db"))
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := lineClient(t, c, "a"); got != "one: a" {
		t.Fatalf("%q", got)
	}
	// The route moves to two; the open connection stays on one.
	write("two", fmt.Sprintf("  two: {endpoints: [%q]}\n", two))
	p.signal(syscall.SIGHUP)
	p.waitStatus("reloaded", func(s reloadStatus) bool { return s.Reloads >= 1 })
	if got := lineClient(t, c, "b"); got != "one: b" {
		t.Errorf("after a reload the open connection answered %q", got)
	}
	n, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if got := lineClient(t, n, "c"); got != "two: c" {
		t.Errorf("a new connection answered %q", got)
	}
	// Upstream one is removed: its connection ends; two's stays.
	writeFile(t, cfg, fmt.Sprintf(`admin: {address: "127.0.0.1:0"}
listeners:
  - {name: db, address: "127.0.0.1:0", protocols: [tcp]}
l4_routes:
  - tcp: {upstream: two}
upstreams:
  two: {endpoints: [%q]}
`, two))
	p.signal(syscall.SIGHUP)
	p.waitStatus("reloaded again", func(s reloadStatus) bool { return s.Reloads >= 2 })
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadAll(c); err != nil {
		t.Errorf("the connection to the removed upstream did not end cleanly: %v", err)
	}
	if got := lineClient(t, n, "d"); got != "two: d" {
		t.Errorf("the connection to the kept upstream answered %q", got)
	}
}

// TestConnectionCaps: server.max_connections closes connections past it on
// every listener, and a tcp listener's limits.max_connections on its own.
func TestConnectionCaps(t *testing.T) {
	raw := tcpBackend(t, "raw", false)
	p := startConfig(t, fmt.Sprintf(`admin: {address: "127.0.0.1:0"}
server: {max_connections: 3}
listeners:
  - {name: db, address: "127.0.0.1:0", protocols: [tcp], limits: {max_connections: 2}}
  - {name: web, address: "127.0.0.1:0"}
routes:
  - respond: {status: 200}
l4_routes:
  - tcp: {upstream: raw}
upstreams:
  raw: {endpoints: [%q]}
`, raw))
	db := hostPort(p.url("db"))
	var open []net.Conn
	defer func() {
		for _, c := range open {
			c.Close()
		}
	}()
	dial := func(addr string) net.Conn {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		open = append(open, c)
		return c
	}
	served := func(c net.Conn) bool {
		_ = c.SetDeadline(time.Now().Add(3 * time.Second))
		if _, err := io.WriteString(c, "x\n"); err != nil {
			return false
		}
		_, err := bufio.NewReader(c).ReadString('\n')
		return err == nil
	}
	a, b := dial(db), dial(db)
	if !served(a) || !served(b) {
		t.Fatal("connections under the caps were not served")
	}
	if served(dial(db)) {
		t.Error("a third connection on the listener capped at 2 was served")
	}
	// Two connections are open on db: one more anywhere reaches the global 3.
	w := dial(hostPort(p.url("web")))
	_ = w.SetDeadline(time.Now().Add(3 * time.Second))
	io.WriteString(w, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	if line, err := bufio.NewReader(w).ReadString('\n'); err != nil || !strings.Contains(line, "200") {
		t.Fatalf("the third connection overall was not served: %q %v", line, err)
	}
	w2 := dial(hostPort(p.url("web")))
	_ = w2.SetDeadline(time.Now().Add(3 * time.Second))
	io.WriteString(w2, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	if line, err := bufio.NewReader(w2).ReadString('\n'); err == nil {
		t.Errorf("a fourth connection overall was served: %q", line)
	}
	if _, body := p.adminGet("/metrics"); !strings.Contains(body, `bouncer_connections_refused_total{listener="web",reason="server_max_connections"} 1`) ||
		!strings.Contains(body, `bouncer_connections_refused_total{listener="db",reason="listener_max_connections"} 1`) {
		t.Errorf("refusals not counted:\n%s", grepLines(body, "refused"))
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestL4UDPFailedReloadKeepsRoutes: a reload that cannot bind a new UDP
// listener changes nothing, not even the routes of the UDP listeners it
// could have kept.
func TestL4UDPFailedReloadKeepsRoutes(t *testing.T) {
	e1, e2 := udpEcho(t, "e1"), udpEcho(t, "e2")
	taken, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	cfg := func(upstream, extra string) string {
		return fmt.Sprintf(`admin: {address: "127.0.0.1:0"}
listeners:
  - {name: web, address: "127.0.0.1:0"}
  - {name: dns, address: %%q, protocols: [udp]}
%s
routes:
  - respond: {status: 200}
l4_routes:
  - {listeners: [dns], udp: {upstream: %s}}
upstreams:
  e1: {endpoints: [%q]}
  e2: {endpoints: [%q]}
`, extra, upstream, e1, e2)
	}
	port := freePort(t)
	path := filepath.Join(t.TempDir(), "bouncer.yaml")
	writeFile(t, path, fmt.Sprintf(cfg("e1", ""), port))
	p := startBouncer(t, path)
	ask := func() string {
		c, err := net.Dial("udp", port)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Write([]byte("q")); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 64)
		n, err := c.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		return string(buf[:n])
	}
	if got := ask(); got != "e1: q" {
		t.Fatalf("before the reload: %q", got)
	}
	bad := fmt.Sprintf(cfg("e2", fmt.Sprintf("  - {name: dns2, address: %q, protocols: [udp]}", taken.LocalAddr())), port)
	bad = strings.Replace(bad, "  - {listeners: [dns], udp: {upstream: e2}}", "  - {listeners: [dns, dns2], udp: {upstream: e2}}", 1)
	writeFile(t, path, bad)
	if code, body := httpDo(t, http.MethodPost, p.admin+"/reload"); code == 200 {
		t.Fatalf("reload with a taken UDP address succeeded: %s", body)
	}
	if got := ask(); got != "e1: q" {
		t.Fatalf("after the failed reload, a new client reached %q; the old routes must stay", got)
	}
}

// TestL4ALPNListingACME: on a TLS listener shared with L4 routes, a hello
// that lists acme-tls/1 beside other protocols is an ordinary one and is
// routed by its name; only a hello offering acme-tls/1 alone is taken for
// an ACME validation (RFC 8737 section 3).
func TestL4ALPNListingACME(t *testing.T) {
	ca := certstest.NewCA(t)
	leaf := ca.Leaf(t, t.TempDir(), "edge", "ecdsa", "edge", "edge.test")
	a := tlsBackend(t, ca, "a.test")
	p := startConfig(t, fmt.Sprintf(`admin: {address: "127.0.0.1:0"}
listeners:
  - {name: edge, address: "127.0.0.1:0", protocols: [tcp, http1, h2], tls: {cert_file: %q, key_file: %q}}
routes:
  - respond: {status: 200, body: "http"}
l4_routes:
  - {name: a, match: {sni: [a.test]}, passthrough: {upstream: a}}
upstreams:
  a: {endpoints: [%q]}
`, leaf.CertFile, leaf.KeyFile, a))
	tc, err := tls.Dial("tcp", hostPort(p.url("edge")), &tls.Config{ServerName: "a.test", RootCAs: ca.Pool, NextProtos: []string{"h2", "acme-tls/1"}})
	if err != nil {
		t.Fatalf("a hello listing acme-tls/1 among others was not passed through: %v", err)
	}
	defer tc.Close()
	if got := lineClient(t, tc, "hi"); got != "a.test: hi" {
		t.Errorf("passthrough answered %q", got)
	}
}
