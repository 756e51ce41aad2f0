package proxyproto

import (
	"encoding/binary"
	"hash/crc32"
)

const (
	maxUniqueID = 128 // spec section 2.2.5
	sslFixed    = 5   // client flags (1) and verify result (4) before sub-TLVs
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// splitTLVs cuts b into TLVs; each must lie wholly inside b. The values
// alias b. A first pass checks the lengths and counts, so the slice is
// allocated once.
func splitTLVs(b []byte) ([]TLV, error) {
	n := 0
	for rest := b; len(rest) > 0; n++ {
		if len(rest) < 3 {
			return nil, invalid("v2 TLV header truncated: %d bytes left", len(rest))
		}
		l := int(binary.BigEndian.Uint16(rest[1:3]))
		if 3+l > len(rest) {
			return nil, invalid("v2 TLV %#x of %d bytes overruns the header", rest[0], l)
		}
		rest = rest[3+l:]
	}
	if n == 0 {
		return nil, nil
	}
	out := make([]TLV, 0, n)
	for len(b) > 0 {
		l := int(binary.BigEndian.Uint16(b[1:3]))
		out = append(out, TLV{Type: TLVType(b[0]), Value: b[3 : 3+l : 3+l]})
		b = b[3+l:]
	}
	return out, nil
}

// parseTLVs splits the TLV area and checks the registered types.
func parseTLVs(b []byte) ([]TLV, error) {
	tlvs, err := splitTLVs(b)
	if err != nil {
		return nil, err
	}
	crcs := 0
	for _, t := range tlvs {
		if err := checkTLV(t); err != nil {
			return nil, err
		}
		if t.Type == TypeCRC32C {
			crcs++
		}
	}
	if crcs > 1 {
		return nil, invalid("v2 header has %d CRC32C TLVs", crcs)
	}
	return tlvs, nil
}

// checkTLV enforces the sizes the spec fixes for registered types. Other
// types (custom, experimental, future) pass unchecked.
func checkTLV(t TLV) error {
	switch t.Type {
	case TypeCRC32C:
		if len(t.Value) != 4 {
			return invalid("v2 CRC32C TLV of %d bytes, want 4", len(t.Value))
		}
	case TypeUniqueID:
		if len(t.Value) > maxUniqueID {
			return invalid("v2 UNIQUE_ID TLV of %d bytes, max %d", len(t.Value), maxUniqueID)
		}
	case TypeSSL:
		if _, err := parseSSL(t.Value); err != nil {
			return err
		}
	}
	if len(t.Value) > 0xFFFF {
		return invalid("v2 TLV %#x of %d bytes", byte(t.Type), len(t.Value))
	}
	return nil
}

// parseSSL checks the fixed part of an SSL TLV and splits its sub-TLVs.
func parseSSL(v []byte) ([]TLV, error) {
	if len(v) < sslFixed {
		return nil, invalid("v2 SSL TLV of %d bytes, want at least %d", len(v), sslFixed)
	}
	return splitTLVs(v[sslFixed:])
}

// verifyCRC checks the CRC32C TLV, if any, against the whole header with
// the checksum field read as zero (spec section 2.2.3). tlvAt is the offset
// of the first TLV in buf; the values of tlvs alias buf.
func verifyCRC(buf []byte, tlvAt int, tlvs []TLV) error {
	off := tlvAt
	for _, t := range tlvs {
		if t.Type != TypeCRC32C {
			off += 3 + len(t.Value)
			continue
		}
		at := off + 3
		want := binary.BigEndian.Uint32(buf[at : at+4])
		if got := crcZeroed(buf, at); got != want {
			return invalid("v2 CRC32C mismatch: header sums to %#08x, TLV says %#08x", got, want)
		}
		return nil
	}
	return nil
}

// crcZeroed is the CRC32C of buf with the four bytes at at taken as zero.
func crcZeroed(buf []byte, at int) uint32 {
	var zero [4]byte
	c := crc32.Update(0, castagnoli, buf[:at])
	c = crc32.Update(c, castagnoli, zero[:])
	return crc32.Update(c, castagnoli, buf[at+4:])
}
