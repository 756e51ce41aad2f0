package peek

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"golang.org/x/crypto/hkdf"
)

// ErrNotQUIC says a datagram does not start with a QUIC v1 or v2 Initial
// packet from a client.
var ErrNotQUIC = errors.New("peek: not a quic initial packet")

// QUIC versions whose Initial packets ParseQUIC opens (RFC 9000, RFC 9369).
const (
	quicV1 = 0x00000001
	quicV2 = 0x6b3343cf
)

var (
	saltV1 = []byte{0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17, 0x9a, 0xe6, 0xa4, 0xc8, 0x0c, 0xad, 0xcc, 0xbb, 0x7f, 0x0a}
	saltV2 = []byte{0x0d, 0xed, 0xe3, 0xde, 0xf7, 0x00, 0xa6, 0xdb, 0x81, 0x93, 0x81, 0xbe, 0x6e, 0x26, 0x9d, 0xcb, 0xf9, 0xbd, 0x2e, 0xd9}
)

// maxCrypto bounds the CRYPTO stream reassembled: the ClientHello must fit.
const maxCrypto = DefaultMaxBytes

// ParseQUIC reads the ClientHello a QUIC client sends in its first Initial
// packets, without terminating anything: the Initial keys derive from the
// client's destination connection ID alone (RFC 9001 §5.2), so any
// on-path party can open them, and a router can choose an upstream by SNI
// and ALPN. datagrams are the client's first datagrams in order; a
// ClientHello with post-quantum key shares spans two or more Initial
// packets, so ErrNeedMore asks for the next datagram. Coalesced packets,
// CRYPTO frames out of order and padding are handled; versions other than
// 1 and 2 are ErrNotQUIC. It never panics and works in time linear in the
// input.
func ParseQUIC(datagrams [][]byte) (Hello, error) {
	var r reassembly
	sawInitial := false
	for _, d := range datagrams {
		for len(d) > 0 {
			rest, err := r.packet(d)
			if errors.Is(err, errSkip) {
				break // not an Initial: the rest of the datagram is other packets
			}
			if err != nil {
				if !sawInitial {
					return Hello{}, err
				}
				return Hello{Proto: TLS}, err
			}
			sawInitial = true
			d = rest
		}
	}
	if !sawInitial {
		return Hello{}, ErrNotQUIC
	}
	h, err := ParseClientHello(r.prefix())
	if errors.Is(err, ErrNotTLS) {
		err = fmt.Errorf("%w: crypto stream is not a client_hello", ErrMalformed)
	}
	return h, err
}

var errSkip = errors.New("not an initial packet")

// reassembly collects CRYPTO frame data by offset; the first copy of a
// byte wins.
type reassembly struct {
	buf  []byte
	have []bool
}

func (r *reassembly) add(off uint64, data []byte) error {
	end := off + uint64(len(data))
	if end > maxCrypto {
		return fmt.Errorf("%w: client_hello over %d bytes", ErrTooLarge, maxCrypto)
	}
	if int(end) > len(r.buf) {
		r.buf = append(r.buf, make([]byte, int(end)-len(r.buf))...)
		r.have = append(r.have, make([]bool, int(end)-len(r.have))...)
	}
	// Bytes already received are kept (RFC 9000 §2.2: data at an offset
	// must not change, and a receiver discards what it already has), so
	// the hello read here is the one the upstream's QUIC stack assembles.
	for i := off; i < end; i++ {
		if !r.have[i] {
			r.buf[i], r.have[i] = data[i-off], true
		}
	}
	return nil
}

// prefix is the contiguous data from offset 0.
func (r *reassembly) prefix() []byte {
	n := slices.Index(r.have, false)
	if n < 0 {
		n = len(r.have)
	}
	return r.buf[:n]
}

// packet opens the long-header packet at the start of d if it is a client
// Initial of a known version, feeds its CRYPTO frames to r, and returns
// what follows it in the datagram.
func (r *reassembly) packet(d []byte) ([]byte, error) {
	if len(d) < 7 || d[0]&0x80 == 0 {
		return nil, errSkip
	}
	version := binary.BigEndian.Uint32(d[1:5])
	var salt []byte
	var initial byte
	var keyLabel, ivLabel, hpLabel string
	switch version {
	case quicV1:
		salt, initial, keyLabel, ivLabel, hpLabel = saltV1, 0, "quic key", "quic iv", "quic hp"
	case quicV2:
		salt, initial, keyLabel, ivLabel, hpLabel = saltV2, 1, "quicv2 key", "quicv2 iv", "quicv2 hp"
	default:
		return nil, fmt.Errorf("%w: version %#x", ErrNotQUIC, version)
	}
	if (d[0]>>4)&0x3 != initial {
		return nil, errSkip
	}
	hdr, err := parseLongHeader(d)
	if err != nil {
		return nil, err
	}
	secret := hkdf.Extract(sha256.New, hdr.dcid, salt)
	client := expandLabel(secret, "client in", 32)
	key, iv, hp := expandLabel(client, keyLabel, 16), expandLabel(client, ivLabel, 12), expandLabel(client, hpLabel, 16)
	payload, err := open(d[:hdr.end], hdr.pnOffset, key, iv, hp)
	if err != nil {
		return nil, err
	}
	if err := r.frames(payload); err != nil {
		return nil, err
	}
	return d[hdr.end:], nil
}

type longHeader struct {
	dcid     []byte
	pnOffset int // where the (protected) packet number starts
	end      int // where the packet ends in the datagram
}

func parseLongHeader(d []byte) (longHeader, error) {
	var h longHeader
	p := 5
	bad := func(what string) (longHeader, error) {
		return longHeader{}, fmt.Errorf("%w: quic initial: %s", ErrMalformed, what)
	}
	dl := int(d[p])
	p++
	if dl > 20 || p+dl >= len(d) {
		return bad("destination connection id")
	}
	h.dcid = d[p : p+dl]
	p += dl
	sl := int(d[p])
	p++
	if sl > 20 || p+sl > len(d) {
		return bad("source connection id")
	}
	p += sl
	tl, n := varint(d[p:])
	if n == 0 || uint64(len(d)-p-n) < tl {
		return bad("token")
	}
	p += n + int(tl)
	length, n := varint(d[p:])
	if n == 0 || uint64(len(d)-p-n) < length || length < 20 {
		return bad("length")
	}
	p += n
	h.pnOffset, h.end = p, p+int(length)
	return h, nil
}

// open removes header protection and decrypts the packet pkt (header and
// protected payload), returning the plaintext frames.
func open(pkt []byte, pnOffset int, key, iv, hp []byte) ([]byte, error) {
	if pnOffset+4+16 > len(pkt) {
		return nil, fmt.Errorf("%w: quic initial too short to sample", ErrMalformed)
	}
	block, err := aes.NewCipher(hp)
	if err != nil {
		return nil, err
	}
	var mask [16]byte
	block.Encrypt(mask[:], pkt[pnOffset+4:pnOffset+4+16])
	hdr := slices.Clone(pkt[:pnOffset+4])
	hdr[0] ^= mask[0] & 0x0f
	pnLen := int(hdr[0]&0x03) + 1
	var pn uint64
	for i := range pnLen {
		hdr[pnOffset+i] ^= mask[1+i]
		pn = pn<<8 | uint64(hdr[pnOffset+i])
	}
	hdr = hdr[:pnOffset+pnLen]
	kb, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(kb)
	if err != nil {
		return nil, err
	}
	nonce := slices.Clone(iv)
	for i := range 8 {
		nonce[len(nonce)-1-i] ^= byte(pn >> (8 * i))
	}
	plain, err := aead.Open(nil, nonce, pkt[pnOffset+pnLen:], hdr)
	if err != nil {
		return nil, fmt.Errorf("%w: quic initial does not decrypt", ErrMalformed)
	}
	return plain, nil
}

// frames reads the frames allowed in a client Initial and keeps the
// CRYPTO data.
func (r *reassembly) frames(b []byte) error {
	for len(b) > 0 {
		typ, n := varint(b)
		if n == 0 {
			return fmt.Errorf("%w: quic frame type", ErrMalformed)
		}
		b = b[n:]
		var err error
		switch typ {
		case 0x00, 0x01: // PADDING, PING
		case 0x02, 0x03: // ACK
			b, err = skipACK(b, typ == 0x03)
		case 0x06: // CRYPTO
			var off, length uint64
			if off, n = varint(b); n == 0 {
				return fmt.Errorf("%w: crypto frame", ErrMalformed)
			}
			b = b[n:]
			if length, n = varint(b); n == 0 || uint64(len(b)-n) < length {
				return fmt.Errorf("%w: crypto frame", ErrMalformed)
			}
			b = b[n:]
			if err := r.add(off, b[:length]); err != nil {
				return err
			}
			b = b[length:]
		case 0x1c: // CONNECTION_CLOSE
			return fmt.Errorf("%w: client closed the connection", ErrMalformed)
		default:
			return fmt.Errorf("%w: frame type %#x in an initial packet", ErrMalformed, typ)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func skipACK(b []byte, ecn bool) ([]byte, error) {
	count := 4 // largest, delay, range count, first range
	for i := 0; i < count; i++ {
		v, n := varint(b)
		if n == 0 {
			return nil, fmt.Errorf("%w: ack frame", ErrMalformed)
		}
		b = b[n:]
		if i == 2 {
			if v > 256 {
				return nil, fmt.Errorf("%w: ack frame ranges", ErrMalformed)
			}
			count += 2 * int(v)
		}
	}
	if ecn {
		for range 3 {
			_, n := varint(b)
			if n == 0 {
				return nil, fmt.Errorf("%w: ack frame", ErrMalformed)
			}
			b = b[n:]
		}
	}
	return b, nil
}

// varint reads a QUIC variable-length integer (RFC 9000 §16); n is 0 when
// b is too short.
func varint(b []byte) (v uint64, n int) {
	if len(b) == 0 {
		return 0, 0
	}
	n = 1 << (b[0] >> 6)
	if len(b) < n {
		return 0, 0
	}
	v = uint64(b[0] & 0x3f)
	for i := 1; i < n; i++ {
		v = v<<8 | uint64(b[i])
	}
	return v, n
}

// expandLabel is TLS 1.3's HKDF-Expand-Label with an empty context.
func expandLabel(secret []byte, label string, length int) []byte {
	full := "tls13 " + label
	info := make([]byte, 0, 4+len(full))
	info = binary.BigEndian.AppendUint16(info, uint16(length))
	info = append(info, byte(len(full)))
	info = append(info, full...)
	info = append(info, 0)
	out := make([]byte, length)
	if _, err := hkdf.Expand(sha256.New, secret, info).Read(out); err != nil {
		panic("hkdf: " + err.Error()) // only for lengths over 255*32, which are constants here
	}
	return out
}
