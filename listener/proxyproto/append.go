package proxyproto

import (
	"encoding/binary"
	"net/netip"
	"strconv"
	"strings"
)

// Append appends h in its wire form to b and returns the extended slice.
// Version 1 writes a text line: TCP4 or TCP6 with a Proxy command, or
// "PROXY UNKNOWN" for a Local command or Unspec transport; UDP, Unix and
// TLVs cannot be written in v1. Version 2 writes the binary form; a Local
// command carries neither addresses nor TLVs. A TLV of type TypeCRC32C is
// written with a checksum computed over the finished header (its Value is
// ignored). Append checks what Read checks, so its output always parses.
func (h Header) Append(b []byte) ([]byte, error) {
	switch h.Version {
	case 1:
		return h.appendV1(b)
	case 2:
		return h.appendV2(b)
	}
	return b, invalid("version %d", h.Version)
}

func (h Header) appendV1(b []byte) ([]byte, error) {
	if len(h.TLVs) > 0 {
		return b, invalid("v1 cannot carry TLVs")
	}
	if h.Command == Local || h.Transport == Unspec {
		return append(b, "PROXY UNKNOWN\r\n"...), nil
	}
	if h.Command != Proxy || (h.Transport != TCP4 && h.Transport != TCP6) {
		return b, invalid("v1 cannot carry command %#x with %s", byte(h.Command), h.Transport)
	}
	if err := h.checkIPs(); err != nil {
		return b, err
	}
	b = append(b, sigV1...)
	b = append(b, h.Transport.String()...)
	b = append(b, ' ')
	b = h.Source.Addr().AppendTo(b)
	b = append(b, ' ')
	b = h.Destination.Addr().AppendTo(b)
	b = append(b, ' ')
	b = strconv.AppendUint(b, uint64(h.Source.Port()), 10)
	b = append(b, ' ')
	b = strconv.AppendUint(b, uint64(h.Destination.Port()), 10)
	return append(b, '\r', '\n'), nil
}

// checkIPs requires both addresses to belong to the transport's family, as
// the v1 line and the v2 address block each name a single family.
func (h Header) checkIPs() error {
	for _, a := range []netip.Addr{h.Source.Addr(), h.Destination.Addr()} {
		ok := a.IsValid() && a.Zone() == ""
		if h.Transport == TCP4 || h.Transport == UDP4 {
			ok = ok && a.Is4()
		} else {
			ok = ok && a.Is6()
		}
		if !ok {
			return invalid("address %v does not fit %s", a, h.Transport)
		}
	}
	return nil
}

func (h Header) appendV2(b []byte) ([]byte, error) {
	if h.Command == Local {
		if h.Transport != Unspec || len(h.TLVs) > 0 {
			return b, invalid("v2 local command carries no addresses or TLVs")
		}
		return append(b, sigV2+"\x20\x00\x00\x00"...), nil
	}
	if h.Command != Proxy {
		return b, invalid("v2 command %#x", byte(h.Command))
	}
	alen, ok := h.Transport.addrLen()
	if !ok {
		return b, invalid("v2 family/transport %#x", byte(h.Transport))
	}
	n, err := h.tlvLen()
	if err != nil {
		return b, err
	}
	if n += alen; n > 0xFFFF {
		return b, invalid("v2 header body of %d bytes exceeds 65535", n)
	}
	start := len(b)
	b = append(b, sigV2...)
	b = append(b, 0x20|byte(Proxy), byte(h.Transport))
	b = binary.BigEndian.AppendUint16(b, uint16(n))
	if b, err = h.appendV2Addrs(b); err != nil {
		return b[:start], err
	}
	crcAt := -1
	for _, t := range h.TLVs {
		v := t.Value
		if t.Type == TypeCRC32C {
			v = []byte{0, 0, 0, 0}
			crcAt = len(b) + 3
		}
		b = append(b, byte(t.Type))
		b = binary.BigEndian.AppendUint16(b, uint16(len(v)))
		b = append(b, v...)
	}
	if crcAt >= 0 {
		binary.BigEndian.PutUint32(b[crcAt:], crcZeroed(b[start:], crcAt-start))
	}
	return b, nil
}

// tlvLen validates the TLVs and returns their encoded size.
func (h Header) tlvLen() (int, error) {
	n, crcs := 0, 0
	for _, t := range h.TLVs {
		if t.Type == TypeCRC32C {
			crcs++
			t.Value = []byte{0, 0, 0, 0}
		}
		if err := checkTLV(t); err != nil {
			return 0, err
		}
		n += 3 + len(t.Value)
	}
	if crcs > 1 {
		return 0, invalid("v2 header has %d CRC32C TLVs", crcs)
	}
	return n, nil
}

func (h Header) appendV2Addrs(b []byte) ([]byte, error) {
	switch h.Transport {
	case TCP4, UDP4, TCP6, UDP6:
		if err := h.checkIPs(); err != nil {
			return b, err
		}
		b = appendIP(b, h.Source.Addr())
		b = appendIP(b, h.Destination.Addr())
		b = binary.BigEndian.AppendUint16(b, h.Source.Port())
		return binary.BigEndian.AppendUint16(b, h.Destination.Port()), nil
	case UnixStream, UnixDgram:
		for _, p := range []string{h.SourcePath, h.DestinationPath} {
			if len(p) > unixPathLen || strings.IndexByte(p, 0) >= 0 {
				return b, invalid("unix path %q: over %d bytes or holds NUL", p, unixPathLen)
			}
			b = append(b, p...)
			b = append(b, make([]byte, unixPathLen-len(p))...)
		}
	}
	return b, nil
}

// appendIP writes a in network byte order: 4 bytes for IPv4, 16 for IPv6.
func appendIP(b []byte, a netip.Addr) []byte {
	if a.Is4() {
		v := a.As4()
		return append(b, v[:]...)
	}
	v := a.As16()
	return append(b, v[:]...)
}
