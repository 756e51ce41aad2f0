package transcode

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"google.golang.org/protobuf/proto"
)

// wire and unwire encode and decode messages for the upstream. Partial
// messages are allowed: proto3 has no required fields, and the check for
// proto2 ones walks every message of a dynamic type slowly.
var (
	wire   = proto.MarshalOptions{AllowPartial: true}
	unwire = proto.UnmarshalOptions{AllowPartial: true}
)

// gRPC carries each message in a frame: one flag byte (bit 0: compressed),
// a 4-byte big-endian length, then the message bytes (gRPC over HTTP/2,
// "Length-Prefixed-Message").
const frameHeaderLen = 5

// appendFrame appends msg as one uncompressed frame to dst.
func appendFrame(dst, msg []byte) []byte {
	var h [frameHeaderLen]byte
	binary.BigEndian.PutUint32(h[1:], uint32(len(msg)))
	dst = append(dst, h[:]...)
	return append(dst, msg...)
}

// errFrameTooLarge is a message above the reader's limit.
var errFrameTooLarge = errors.New("message larger than the limit")

// frameReader reads the messages of a gRPC response body, one at a time.
type frameReader struct {
	r   io.Reader
	max int
	hdr [frameHeaderLen]byte
	buf []byte
}

// next returns the next message, valid until the following call; io.EOF
// at a clean end between frames. Compressed frames are refused: Bouncer
// asks for none (no grpc-accept-encoding), so one means a broken peer.
func (f *frameReader) next() ([]byte, error) {
	if _, err := io.ReadFull(f.r, f.hdr[:]); err != nil {
		if err == io.ErrUnexpectedEOF {
			return nil, errors.New("response ended inside a frame header")
		}
		return nil, err
	}
	if f.hdr[0]&1 != 0 {
		return nil, errors.New("compressed message, though none was accepted")
	}
	n := binary.BigEndian.Uint32(f.hdr[1:])
	if int64(n) > int64(f.max) {
		return nil, fmt.Errorf("%w (%d > %d bytes)", errFrameTooLarge, n, f.max)
	}
	if cap(f.buf) < int(n) {
		f.buf = make([]byte, n)
	}
	f.buf = f.buf[:n]
	if _, err := io.ReadFull(f.r, f.buf); err != nil {
		return nil, errors.New("response ended inside a message")
	}
	return f.buf, nil
}
