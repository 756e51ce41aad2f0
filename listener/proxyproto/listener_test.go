package proxyproto

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// served is what a server-side handler saw on one connection.
type served struct {
	remote net.Addr
	hdr    *Header
	data   string
	err    error
}

type harness struct {
	addr    string
	results chan served
	reasons chan Reason
}

// start serves NewListener(127.0.0.1:0, o), each connection in its own
// goroutine with handle; OnReject feeds h.reasons.
func start(t *testing.T, o Options, handle func(*Conn) served) *harness {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{addr: ln.Addr().String(), results: make(chan served, 16), reasons: make(chan Reason, 16)}
	o.OnReject = func(r Reason) { h.reasons <- r }
	pl := NewListener(ln, o)
	t.Cleanup(func() { _ = pl.Close() })
	go func() {
		for {
			c, err := pl.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				h.results <- handle(c.(*Conn))
			}()
		}
	}()
	return h
}

// readAll is the default handler: client address, header, then all data.
func readAll(c *Conn) served {
	remote := c.RemoteAddr()
	hdr := c.ProxyHeader()
	b, err := io.ReadAll(c)
	return served{remote: remote, hdr: hdr, data: string(b), err: err}
}

// dial connects and writes each chunk with its own Write call.
func (h *harness) dial(t *testing.T, chunks ...[]byte) *net.TCPConn {
	t.Helper()
	c, err := net.Dial("tcp", h.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	for _, b := range chunks {
		if _, err := c.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	return c.(*net.TCPConn)
}

func (h *harness) result(t *testing.T) served {
	t.Helper()
	select {
	case r := <-h.results:
		return r
	case <-time.After(5 * time.Second):
		t.Fatal("no result from the server within 5s")
	}
	return served{}
}

// expect checks one served connection: rejected with reason, or accepted
// with "hello" read and the given client address.
func (h *harness) expect(t *testing.T, reason Reason, remote string) {
	t.Helper()
	r := h.result(t)
	if reason != "" {
		if !errors.Is(r.err, ErrRejected) {
			t.Fatalf("server read err %v, want ErrRejected", r.err)
		}
		if got := <-h.reasons; got != reason {
			t.Fatalf("OnReject(%q), want %q", got, reason)
		}
		return
	}
	if r.err != nil || r.data != "hello" {
		t.Fatalf("server read %q, %v; want hello", r.data, r.err)
	}
	if r.remote.String() != remote {
		t.Fatalf("RemoteAddr() = %v, want %s", r.remote, remote)
	}
	if len(h.reasons) != 0 {
		t.Fatalf("OnReject called for an accepted connection: %q", <-h.reasons)
	}
}

var (
	loopback  = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	elsewhere = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	hdrV1     = []byte("PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\r\n")
	hdrV2     = v2(0x21, 0x11, ip4Block)
	badV2     = v2(0x21, 0x11, ip4Block, tlv(0x03, []byte{1, 2, 3, 4}))
)

func TestPolicies(t *testing.T) {
	const orig = "192.0.2.1:56324"
	cases := []struct {
		name      string
		trusted   []netip.Prefix
		policy    Policy
		untrusted Policy
		header    []byte
		reason    Reason
		fromHdr   bool // RemoteAddr is the header's source, not the socket's
	}{
		{name: "require v1", trusted: loopback, policy: Require, header: hdrV1, fromHdr: true},
		{name: "require v2", trusted: loopback, policy: Require, header: hdrV2, fromHdr: true},
		{name: "require none", trusted: loopback, policy: Require, reason: ReasonMissing},
		{name: "require invalid", trusted: loopback, policy: Require, header: badV2, reason: ReasonInvalid},
		{name: "require local", trusted: loopback, policy: Require, header: v2(0x20, 0x00)},
		{name: "use v2", trusted: loopback, policy: Use, header: hdrV2, fromHdr: true},
		{name: "use none", trusted: loopback, policy: Use},
		{name: "ignore v1", trusted: loopback, policy: Ignore, header: hdrV1},
		{name: "ignore none", trusted: loopback, policy: Ignore},
		{name: "reject v2", trusted: loopback, policy: Reject, header: hdrV2, reason: ReasonRefused},
		{name: "reject none", trusted: loopback, policy: Reject},
		{name: "untrusted v1 spoof", trusted: elsewhere, policy: Use, header: hdrV1, reason: ReasonSpoofed},
		{name: "untrusted v2 spoof", trusted: elsewhere, policy: Require, header: hdrV2, reason: ReasonSpoofed},
		{name: "untrusted plain", trusted: elsewhere, policy: Require},
		{name: "nothing trusted plain", policy: Use},
		{name: "untrusted ignore strips", trusted: elsewhere, untrusted: Ignore, header: hdrV2},
		{name: "untrusted ignore invalid", trusted: elsewhere, untrusted: Ignore, header: badV2, reason: ReasonInvalid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := start(t, Options{Trusted: tc.trusted, Policy: tc.policy, Untrusted: tc.untrusted}, readAll)
			// Header and payload in one segment: the payload must survive.
			c := h.dial(t, append(append([]byte(nil), tc.header...), "hello"...))
			_ = c.CloseWrite()
			remote := c.LocalAddr().String()
			if tc.fromHdr {
				remote = orig
			}
			h.expect(t, tc.reason, remote)
			// Whatever happened, the server has closed its side.
			_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := io.ReadAll(c); err != nil && !strings.Contains(err.Error(), "reset") {
				t.Fatalf("client read after server close: %v", err)
			}
		})
	}
}

func TestHeaderExposed(t *testing.T) {
	h := start(t, Options{Trusted: loopback, Policy: Use}, readAll)
	hdr := NewTCP(2, src4, dst4)
	hdr.TLVs = []TLV{{TypeALPN, []byte("h2")}, {TypeAuthority, []byte("api.example.com")}, {TypeCRC32C, nil}}
	b, err := hdr.Append(nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = h.dial(t, append(b, "hello"...)).CloseWrite()
	r := h.result(t)
	if r.hdr == nil || r.data != "hello" {
		t.Fatalf("server saw header %+v, data %q", r.hdr, r.data)
	}
	if sni, _ := r.hdr.Authority(); sni != "api.example.com" || r.hdr.Destination != dst4 {
		t.Fatalf("header %+v", r.hdr)
	}
}
