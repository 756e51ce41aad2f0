package proxyproto

import (
	"net"
	"net/netip"
	"slices"
	"time"
)

// Policy says what a Conn does with a PROXY header from a peer.
type Policy int

const (
	// Require closes a connection that does not start with a valid header.
	Require Policy = iota
	// Use takes the header's source as the client address when one is sent.
	Use
	// Ignore reads and drops a header; the socket's peer address is kept.
	Ignore
	// Reject closes a connection that starts with a header signature.
	Reject
)

// String returns the lower-case policy name.
func (p Policy) String() string {
	switch p {
	case Require:
		return "require"
	case Use:
		return "use"
	case Ignore:
		return "ignore"
	case Reject:
		return "reject"
	}
	return "invalid"
}

// Reason names why a Conn closed its connection; it is meant as a metric label.
type Reason string

const (
	ReasonMissing   Reason = "missing_header"   // Require, and no header came
	ReasonRefused   Reason = "refused_header"   // Reject, and a trusted peer sent one
	ReasonSpoofed   Reason = "untrusted_header" // a peer outside Trusted sent one
	ReasonInvalid   Reason = "invalid_header"   // malformed or truncated header
	ReasonTimeout   Reason = "timeout"          // the header did not arrive within Timeout
	ReasonReadError Reason = "read_error"       // the socket failed while reading it
)

// DefaultTimeout bounds the header read when Options.Timeout is zero.
const DefaultTimeout = 3 * time.Second

// Options configure NewListener. The zero value trusts no peer, so it only
// closes connections that try to pass a header (spoofing).
type Options struct {
	// Trusted lists the networks of the proxies allowed to send headers.
	// Peers without an IP address (Unix sockets) are never trusted.
	Trusted []netip.Prefix
	// Policy applies to trusted peers; the zero value (and any value
	// outside the four policies) is Require.
	Policy Policy
	// Untrusted applies to every other peer. A header from it is never
	// believed: Ignore strips a valid one and keeps the socket address; any
	// other value, the zero value included, acts as Reject and closes it.
	Untrusted Policy
	// Timeout bounds the header read, counted from the first call that needs
	// it; zero means DefaultTimeout. A peer that sends nothing at all within
	// it is taken as sending no header (Require then closes it); one that
	// stops inside a header is closed.
	Timeout time.Duration
	// OnReject, if set, is called once for each connection a Conn closes,
	// from the goroutine that triggered the header read.
	OnReject func(Reason)
}

// listener wraps accepted connections in *Conn. Accept never reads from the
// connection, so one slow peer cannot hold up the others.
type listener struct {
	net.Listener
	o Options
}

var _ net.Listener = (*listener)(nil)

// NewListener returns l with every accepted connection wrapped in a *Conn
// governed by o. Closing the returned listener closes l. The header is read
// lazily, in the goroutine of the first Read, WriteTo, ProxyHeader or (for
// trusted peers under Require or Use) RemoteAddr call on the Conn.
func NewListener(l net.Listener, o Options) net.Listener {
	o.Trusted = slices.Clone(o.Trusted)
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Policy < Require || o.Policy > Reject {
		o.Policy = Require
	}
	if o.Untrusted != Ignore {
		o.Untrusted = Reject
	}
	return &listener{Listener: l, o: o}
}

// Accept waits for the next connection and wraps it; it does no I/O on it.
func (l *listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return newConn(c, &l.o, l.trusts(c.RemoteAddr())), nil
}

func (l *listener) trusts(a net.Addr) bool {
	var ip netip.Addr
	switch a := a.(type) {
	case *net.TCPAddr:
		ip = a.AddrPort().Addr()
	case *net.UDPAddr:
		ip = a.AddrPort().Addr()
	default:
		return false
	}
	ip = ip.Unmap().WithZone("")
	for _, p := range l.o.Trusted {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}
