// Package proxyproto reads and writes the PROXY protocol header (versions 1
// and 2, as HAProxy's "proxy-protocol.txt" specifies them) and wraps a
// net.Listener so that connections relayed by a trusted load balancer report
// the original client address.
package proxyproto

import (
	"errors"
	"net/netip"
)

// Command is the v2 command nibble (spec section 2.2, byte 13).
type Command uint8

const (
	// Local marks a connection the proxy opened itself (health checks): the
	// receiver keeps the real endpoints. v1 "PROXY UNKNOWN" maps to Local.
	Local Command = 0x0
	// Proxy marks a relayed connection whose original endpoints follow.
	Proxy Command = 0x1
)

// Transport is the v2 family and transport byte (spec section 2.2, byte 14);
// the constants carry their wire values.
type Transport uint8

const (
	Unspec     Transport = 0x00 // addresses unknown or omitted
	TCP4       Transport = 0x11 // AF_INET, SOCK_STREAM
	UDP4       Transport = 0x12 // AF_INET, SOCK_DGRAM
	TCP6       Transport = 0x21 // AF_INET6, SOCK_STREAM
	UDP6       Transport = 0x22 // AF_INET6, SOCK_DGRAM
	UnixStream Transport = 0x31 // AF_UNIX, SOCK_STREAM
	UnixDgram  Transport = 0x32 // AF_UNIX, SOCK_DGRAM
)

// addrLen is the length of the v2 address block for t, and false for a byte
// value the spec does not define (receivers must reject those).
func (t Transport) addrLen() (int, bool) {
	switch t {
	case Unspec:
		return 0, true
	case TCP4, UDP4:
		return 12, true
	case TCP6, UDP6:
		return 36, true
	case UnixStream, UnixDgram:
		return 2 * unixPathLen, true
	}
	return 0, false
}

// IsIP reports whether t carries IP addresses and ports.
func (t Transport) IsIP() bool { return t == TCP4 || t == UDP4 || t == TCP6 || t == UDP6 }

// String returns the v1 spelling for TCP and a descriptive name otherwise.
func (t Transport) String() string {
	switch t {
	case Unspec:
		return "UNKNOWN"
	case TCP4:
		return "TCP4"
	case UDP4:
		return "UDP4"
	case TCP6:
		return "TCP6"
	case UDP6:
		return "UDP6"
	case UnixStream:
		return "UNIX_STREAM"
	case UnixDgram:
		return "UNIX_DGRAM"
	}
	return "INVALID"
}

// TLVType is the type byte of a v2 TLV (spec section 2.2.1).
type TLVType uint8

// Registered TLV types and the sub-types of TypeSSL.
const (
	TypeALPN      TLVType = 0x01 // negotiated application protocol, bytes
	TypeAuthority TLVType = 0x02 // host name the client asked for (TLS SNI), UTF-8
	TypeCRC32C    TLVType = 0x03 // CRC32C of the whole header, 4 bytes big-endian
	TypeNoop      TLVType = 0x04 // padding, ignored
	TypeUniqueID  TLVType = 0x05 // opaque connection id, at most 128 bytes
	TypeSSL       TLVType = 0x20 // TLS facts: client flags, verify result, sub-TLVs
	TypeNetNS     TLVType = 0x30 // network namespace name, US-ASCII

	SubtypeSSLVersion TLVType = 0x21
	SubtypeSSLCN      TLVType = 0x22
	SubtypeSSLCipher  TLVType = 0x23
	SubtypeSSLSigAlg  TLVType = 0x24
	SubtypeSSLKeyAlg  TLVType = 0x25
)

// Client flags of the SSL TLV (PP2_CLIENT_*).
const (
	ClientSSL      = 0x01 // the client connected over TLS
	ClientCertConn = 0x02 // it presented a certificate on this connection
	ClientCertSess = 0x04 // it presented one earlier in the TLS session
)

// TLV is one v2 type-length-value entry. Values read by Read share one
// buffer per header; they must not be modified by the caller.
type TLV struct {
	Type  TLVType
	Value []byte
}

// Header is one PROXY protocol header. The zero value is not a valid header:
// Version must be 1 or 2.
type Header struct {
	Version   int // 1 or 2
	Command   Command
	Transport Transport
	// Source and Destination hold the original endpoints for IP transports.
	Source, Destination netip.AddrPort
	// SourcePath and DestinationPath hold the socket paths for Unix transports.
	SourcePath, DestinationPath string
	TLVs                        []TLV // v2 only
}

// SSLInfo is the decoded PP2_TYPE_SSL TLV.
type SSLInfo struct {
	Client uint8  // ClientSSL | ClientCertConn | ClientCertSess
	Verify uint32 // 0 when the client certificate verified
	// Version, CN, Cipher, SigAlg and KeyAlg come from the sub-TLVs, "" when absent.
	Version, CN, Cipher, SigAlg, KeyAlg string
}

var (
	// ErrInvalid wraps every malformed-header error from Read and Append.
	ErrInvalid = errors.New("proxyproto: invalid header")
	// ErrRejected is returned by a Conn whose peer broke the listener's policy;
	// the connection has been closed.
	ErrRejected = errors.New("proxyproto: connection rejected")
)

// TLV returns the value of the first TLV of type t.
func (h Header) TLV(t TLVType) ([]byte, bool) {
	for _, v := range h.TLVs {
		if v.Type == t {
			return v.Value, true
		}
	}
	return nil, false
}

// ALPN returns the PP2_TYPE_ALPN value (for example "h2").
func (h Header) ALPN() (string, bool) {
	v, ok := h.TLV(TypeALPN)
	return string(v), ok
}

// Authority returns the PP2_TYPE_AUTHORITY value, the client's SNI.
func (h Header) Authority() (string, bool) {
	v, ok := h.TLV(TypeAuthority)
	return string(v), ok
}

// UniqueID returns the PP2_TYPE_UNIQUE_ID value.
func (h Header) UniqueID() ([]byte, bool) { return h.TLV(TypeUniqueID) }

// SSL decodes the PP2_TYPE_SSL TLV. Read has already checked its layout, so
// ok is false only when the TLV is absent or was built by hand malformed.
func (h Header) SSL() (SSLInfo, bool) {
	v, ok := h.TLV(TypeSSL)
	if !ok {
		return SSLInfo{}, false
	}
	subs, err := parseSSL(v)
	if err != nil {
		return SSLInfo{}, false
	}
	info := SSLInfo{Client: v[0], Verify: uint32(v[1])<<24 | uint32(v[2])<<16 | uint32(v[3])<<8 | uint32(v[4])}
	for _, s := range subs {
		switch s.Type {
		case SubtypeSSLVersion:
			info.Version = string(s.Value)
		case SubtypeSSLCN:
			info.CN = string(s.Value)
		case SubtypeSSLCipher:
			info.Cipher = string(s.Value)
		case SubtypeSSLSigAlg:
			info.SigAlg = string(s.Value)
		case SubtypeSSLKeyAlg:
			info.KeyAlg = string(s.Value)
		}
	}
	return info, true
}

// NewTCP returns a Proxy header for a TCP connection from src to dst:
// TCP4 when both addresses are IPv4 (or IPv4-mapped), TCP6 otherwise, with
// IPv4 addresses mapped into IPv6 so both sides share a family.
func NewTCP(version int, src, dst netip.AddrPort) Header {
	s, d := src.Addr().Unmap(), dst.Addr().Unmap()
	t := TCP4
	if !s.Is4() || !d.Is4() {
		t = TCP6
		s, d = netip.AddrFrom16(s.As16()), netip.AddrFrom16(d.As16())
	}
	return Header{
		Version: version, Command: Proxy, Transport: t,
		Source:      netip.AddrPortFrom(s, src.Port()),
		Destination: netip.AddrPortFrom(d, dst.Port()),
	}
}
