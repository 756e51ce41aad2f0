package peek

import (
	"fmt"

	"golang.org/x/crypto/cryptobyte"
)

// TLS wire constants (RFC 8446 5.1, 4, 4.2; RFC 6066 3; RFC 7301 3.1).
const (
	recordHeaderLen   = 5
	recordTypeHS      = 22 // handshake
	maxRecordLen      = 1 << 14
	hsHeaderLen       = 4
	hsTypeClientHello = 1

	extServerName        = 0
	extALPN              = 16
	extSupportedVersions = 43

	// maxHelloBody is the largest ClientHello body the vectors of RFC 8446
	// 4.1.2 allow; a longer declared length is garbage, rejected at once.
	maxHelloBody = 2 + 32 + (1 + 32) + (2 + 65534) + (1 + 255) + (2 + 65535)
)

// recordWalker follows a TLS record stream up to the end of its first
// handshake message without copying it. Feed it the same growing buffer;
// it resumes where it stopped, so the whole walk is linear.
type recordWalker struct {
	off     int     // end of the last whole record seen
	hs      int     // handshake bytes in the records before off
	hsLen   int     // 4 + declared message length; 0 until known
	hdr     [4]byte // the handshake header, gathered across records
	records int
}

// next reports how long buf must be before the walk can go on, or 0 when
// the ClientHello is whole (it then ends in the record ending at w.off).
// ErrNotTLS means the first record header is not a plausible handshake
// record; later faults wrap ErrMalformed.
func (w *recordWalker) next(buf []byte) (int, error) {
	for w.hsLen == 0 || w.hs < w.hsLen {
		if len(buf) < w.off+recordHeaderLen {
			return w.off + recordHeaderLen, nil
		}
		h := buf[w.off : w.off+recordHeaderLen]
		n := int(h[3])<<8 | int(h[4])
		if h[0] != recordTypeHS || h[1] != 3 || h[2] > 4 || n == 0 || n > maxRecordLen {
			if w.records == 0 {
				return 0, ErrNotTLS
			}
			// RFC 8446 5.1: handshake messages must not be interleaved
			// with other record types, nor sent in empty records.
			return 0, fmt.Errorf("%w: bad record header % x after %d records", ErrMalformed, h, w.records)
		}
		end := w.off + recordHeaderLen + n
		if len(buf) < end {
			return end, nil
		}
		frag := buf[w.off+recordHeaderLen : end]
		for i := 0; w.hs+i < hsHeaderLen && i < len(frag); i++ {
			w.hdr[w.hs+i] = frag[i]
		}
		w.hs += n
		w.off = end
		w.records++
		if w.hsLen == 0 && w.hs >= hsHeaderLen {
			if err := w.header(); err != nil {
				return 0, err
			}
		}
	}
	return 0, nil
}

// header checks the gathered handshake header and sets hsLen.
func (w *recordWalker) header() error {
	if w.hdr[0] != hsTypeClientHello {
		return fmt.Errorf("%w: handshake type %d, want client_hello", ErrMalformed, w.hdr[0])
	}
	n := int(w.hdr[1])<<16 | int(w.hdr[2])<<8 | int(w.hdr[3])
	if n > maxHelloBody {
		return fmt.Errorf("%w: client_hello length %d", ErrMalformed, n)
	}
	w.hsLen = hsHeaderLen + n
	return nil
}

// minTotal is the least length the stream can have once the hello is whole,
// so an oversized hello is refused before it is read.
func (w *recordWalker) minTotal() int {
	if w.hsLen == 0 || w.hs >= w.hsLen {
		return w.off
	}
	return w.off + recordHeaderLen + w.hsLen - w.hs
}

// message returns the handshake message the walk found: a slice of buf when
// one record holds it, else a new joined copy.
func (w *recordWalker) message(buf []byte) []byte {
	if w.records == 1 {
		return buf[recordHeaderLen : recordHeaderLen+w.hsLen]
	}
	msg := make([]byte, 0, w.hsLen)
	for off := 0; len(msg) < w.hsLen; {
		n := int(buf[off+3])<<8 | int(buf[off+4])
		frag := buf[off+recordHeaderLen : off+recordHeaderLen+n]
		msg = append(msg, frag[:min(len(frag), w.hsLen-len(msg))]...)
		off += recordHeaderLen + n
	}
	return msg
}

// ParseClientHello parses the ClientHello at the start of b, which is
// either a raw TLS record stream (the hello may span many records; records
// after it are ignored) or a bare handshake message starting with type 1.
// It returns ErrNeedMore when b ends before the hello does, and an error
// wrapping ErrMalformed (or ErrNotTLS when b starts with neither form) for
// anything else that is not a well-formed hello. Hello.Bytes is the length
// of b the hello used. Work is linear in len(b); it never panics.
func ParseClientHello(b []byte) (Hello, error) {
	if len(b) == 0 {
		return Hello{}, ErrNeedMore
	}
	if b[0] == hsTypeClientHello {
		return parseBare(b)
	}
	var w recordWalker
	want, err := w.next(b)
	switch {
	case err == ErrNotTLS:
		return Hello{}, fmt.Errorf("%w: starts % x", ErrNotTLS, b[:min(len(b), recordHeaderLen)])
	case err != nil:
		return Hello{Proto: TLS}, err
	case want > 0:
		return Hello{Proto: TLS}, ErrNeedMore
	}
	h, err := parseMessage(w.message(b))
	h.Bytes = w.off
	return h, err
}

// parseBare parses a ClientHello handshake message without record framing.
func parseBare(b []byte) (Hello, error) {
	if len(b) < hsHeaderLen {
		return Hello{Proto: TLS}, ErrNeedMore
	}
	var w recordWalker
	copy(w.hdr[:], b)
	if err := w.header(); err != nil {
		return Hello{Proto: TLS}, err
	}
	if len(b) < w.hsLen {
		return Hello{Proto: TLS}, ErrNeedMore
	}
	h, err := parseMessage(b[:w.hsLen])
	h.Bytes = w.hsLen
	return h, err
}

// parseMessage parses one whole ClientHello handshake message, header
// included, per RFC 8446 4.1.2.
func parseMessage(msg []byte) (Hello, error) {
	h := Hello{Proto: TLS}
	s := cryptobyte.String(msg[hsHeaderLen:])
	var legacy uint16
	var sessionID, suites, compression, exts cryptobyte.String
	if !s.ReadUint16(&legacy) || !s.Skip(32) ||
		!s.ReadUint8LengthPrefixed(&sessionID) || len(sessionID) > 32 ||
		!s.ReadUint16LengthPrefixed(&suites) || len(suites) < 2 || len(suites)%2 != 0 ||
		!s.ReadUint8LengthPrefixed(&compression) || len(compression) < 1 {
		return h, fmt.Errorf("%w: truncated client_hello fields", ErrMalformed)
	}
	// Before TLS 1.3 the extensions block may be absent altogether.
	if !s.Empty() && (!s.ReadUint16LengthPrefixed(&exts) || !s.Empty()) {
		return h, fmt.Errorf("%w: bad extensions block", ErrMalformed)
	}
	if err := parseExtensions(&h, exts); err != nil {
		return h, err
	}
	if h.TLSVersions == nil {
		h.TLSVersions = []uint16{legacy}
	}
	return h, nil
}

// parseExtensions fills h from the extensions it routes on and rejects a
// repeat of any of them (RFC 8446 4.2).
func parseExtensions(h *Hello, exts cryptobyte.String) error {
	var seen [3]bool
	for !exts.Empty() {
		var typ uint16
		var data cryptobyte.String
		if !exts.ReadUint16(&typ) || !exts.ReadUint16LengthPrefixed(&data) {
			return fmt.Errorf("%w: truncated extension", ErrMalformed)
		}
		var err error
		switch typ {
		case extServerName:
			err = once(&seen[0], typ, func() error { return parseSNI(h, data) })
		case extALPN:
			err = once(&seen[1], typ, func() error { return parseALPN(h, data) })
		case extSupportedVersions:
			err = once(&seen[2], typ, func() error { return parseVersions(h, data) })
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func once(seen *bool, typ uint16, parse func() error) error {
	if *seen {
		return fmt.Errorf("%w: duplicate extension %d", ErrMalformed, typ)
	}
	*seen = true
	return parse()
}

// parseSNI reads the server_name extension (RFC 6066 3): the host_name
// entry, lower-cased, without a trailing dot.
func parseSNI(h *Hello, data cryptobyte.String) error {
	var list cryptobyte.String
	if !data.ReadUint16LengthPrefixed(&list) || !data.Empty() || list.Empty() {
		return fmt.Errorf("%w: bad server_name list", ErrMalformed)
	}
	for !list.Empty() {
		var typ uint8
		var name cryptobyte.String
		if !list.ReadUint8(&typ) || !list.ReadUint16LengthPrefixed(&name) || len(name) == 0 {
			return fmt.Errorf("%w: bad server_name entry", ErrMalformed)
		}
		if typ != 0 {
			continue // only host_name is defined; skip unknown kinds
		}
		if h.SNI != "" {
			return fmt.Errorf("%w: two host_name entries", ErrMalformed)
		}
		sni, err := hostName(name)
		if err != nil {
			return err
		}
		h.SNI = sni
	}
	return nil
}

// hostName lower-cases an SNI host name and drops one trailing dot; bytes
// that cannot be in a DNS name are refused, so routing never sees them.
func hostName(name []byte) (string, error) {
	if name[len(name)-1] == '.' {
		name = name[:len(name)-1]
	}
	if len(name) == 0 {
		return "", fmt.Errorf("%w: server_name is only a dot", ErrMalformed)
	}
	lower := true
	for _, c := range name {
		if c <= ' ' || c >= 0x7f {
			return "", fmt.Errorf("%w: server_name byte 0x%02x", ErrMalformed, c)
		}
		lower = lower && (c < 'A' || c > 'Z')
	}
	if lower {
		return string(name), nil
	}
	out := make([]byte, len(name))
	for i, c := range name {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		out[i] = c
	}
	return string(out), nil
}

// parseALPN reads the protocol list (RFC 7301 3.1), skipping GREASE values
// (RFC 8701). One string backs all names, so the list costs two allocations.
func parseALPN(h *Hello, data cryptobyte.String) error {
	var list cryptobyte.String
	if !data.ReadUint16LengthPrefixed(&list) || !data.Empty() || list.Empty() {
		return fmt.Errorf("%w: bad alpn list", ErrMalformed)
	}
	all := string(list)
	n := 0
	for rest := list; !rest.Empty(); n++ {
		var p cryptobyte.String
		if !rest.ReadUint8LengthPrefixed(&p) || len(p) == 0 {
			return fmt.Errorf("%w: bad alpn entry", ErrMalformed)
		}
	}
	h.ALPN = make([]string, 0, n)
	for off := 0; off < len(all); {
		l := int(all[off])
		p := all[off+1 : off+1+l]
		off += 1 + l
		if l == 2 && isGrease(uint16(p[0])<<8|uint16(p[1])) {
			continue
		}
		h.ALPN = append(h.ALPN, p)
	}
	return nil
}

// parseVersions reads supported_versions as a client sends it (RFC 8446
// 4.2.1), skipping GREASE values.
func parseVersions(h *Hello, data cryptobyte.String) error {
	var list cryptobyte.String
	if !data.ReadUint8LengthPrefixed(&list) || !data.Empty() || len(list) < 2 || len(list)%2 != 0 {
		return fmt.Errorf("%w: bad supported_versions", ErrMalformed)
	}
	h.TLSVersions = make([]uint16, 0, len(list)/2)
	for !list.Empty() {
		var v uint16
		list.ReadUint16(&v)
		if !isGrease(v) {
			h.TLSVersions = append(h.TLSVersions, v)
		}
	}
	return nil
}

// isGrease reports the reserved values of RFC 8701 (0x0a0a, 0x1a1a, ...).
func isGrease(v uint16) bool {
	return v&0x0f0f == 0x0a0a && v>>8 == v&0xff
}
