package grpcweb

import (
	"encoding/base64"
	"encoding/binary"
	"io"
)

// textEncoder base64-encodes a -text response as it is written. Whole three-byte groups are
// encoded and written at once; up to two bytes wait for the next Write or for endSegment, which
// pads them, so that each segment can be decoded on its own. Not safe for concurrent use.
type textEncoder struct {
	w    io.Writer
	rem  [3]byte // bytes not yet encoded, in rem[:nrem]
	nrem int
	buf  [4096]byte
}

// Write encodes p, writing every whole group to the underlying writer before it returns.
func (e *textEncoder) Write(p []byte) (int, error) {
	total := len(p)
	o := 0
	if e.nrem > 0 {
		k := copy(e.rem[e.nrem:], p)
		e.nrem += k
		p = p[k:]
		if e.nrem < 3 {
			return total, nil
		}
		base64.StdEncoding.Encode(e.buf[:4], e.rem[:])
		o, e.nrem = 4, 0
	}
	for len(p) >= 3 {
		k := min(len(p)/3, (len(e.buf)-o)/4) * 3
		if k == 0 {
			if _, err := e.w.Write(e.buf[:o]); err != nil {
				return 0, err
			}
			o = 0
			continue
		}
		base64.StdEncoding.Encode(e.buf[o:], p[:k])
		o += k / 3 * 4
		p = p[k:]
	}
	e.nrem = copy(e.rem[:], p)
	if o > 0 {
		if _, err := e.w.Write(e.buf[:o]); err != nil {
			return 0, err
		}
	}
	return total, nil
}

// endSegment writes the waiting bytes, if any, as a padded group.
func (e *textEncoder) endSegment() error {
	if e.nrem == 0 {
		return nil
	}
	base64.StdEncoding.Encode(e.buf[:4], e.rem[:e.nrem])
	e.nrem = 0
	_, err := e.w.Write(e.buf[:4])
	return err
}

// frameScanner follows the gRPC length-prefixed framing (one flag byte, a four-byte big-endian
// length, the payload) of a response body written in arbitrary pieces.
type frameScanner struct {
	hdr  [5]byte
	hn   int    // header bytes seen of the current frame; 5 once in the payload
	left uint32 // payload bytes still to come
}

// advance consumes b up to the end of the current frame and returns how much it consumed and
// whether that completed the frame.
func (s *frameScanner) advance(b []byte) (n int, end bool) {
	for n < len(b) {
		if s.hn < len(s.hdr) {
			k := copy(s.hdr[s.hn:], b[n:])
			s.hn += k
			n += k
			if s.hn == len(s.hdr) {
				s.left = binary.BigEndian.Uint32(s.hdr[1:])
				if s.left == 0 {
					s.hn = 0
					return n, true
				}
			}
			continue
		}
		k := min(uint64(s.left), uint64(len(b)-n))
		n += int(k)
		s.left -= uint32(k)
		if s.left == 0 {
			s.hn = 0
			return n, true
		}
	}
	return n, false
}
