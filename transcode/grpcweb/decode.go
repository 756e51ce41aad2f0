package grpcweb

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
)

// errBadBase64 is the condition behind every corruptError.
var errBadBase64 = errors.New("grpcweb: invalid base64 in request body")

// corruptError locates invalid base64 in a -text request body.
type corruptError struct {
	off int64 // offset of the bad character in the body, CR and LF not counted
}

func (e *corruptError) Error() string {
	return fmt.Sprintf("%v at offset %d", errBadBase64, e.off)
}

func (e *corruptError) Unwrap() error { return errBadBase64 }

// textDecoder is the body given to the next handler for a -text request: it base64-decodes the
// client's body as it is read. The input is a sequence of segments, each a run of whole
// four-character groups of which only the last may hold padding, so chunks that were encoded
// and padded one by one decode as well as one long encoding; a final unpadded group of two or
// three characters is accepted. CR and LF are ignored.
//
// Read and Close are called by the next handler's goroutines (one reader at a time); failed may
// be called from any goroutine.
type textDecoder struct {
	src        io.ReadCloser
	start, end int    // encoded input in buf[start:end]
	off        int64  // encoded characters consumed before buf[start]
	srcErr     error  // the source's error (io.EOF at the end), once met
	err        error  // sticky error returned by Read once pending data is drained
	pend       []byte // decoded bytes not yet returned, in small
	small      [3]byte
	bad        atomic.Pointer[corruptError]
	buf        [decodeBufSize]byte
}

// decodeBufSize keeps a textDecoder within one 4 KiB allocation.
const decodeBufSize = 4096 - 128

func newTextDecoder(src io.ReadCloser) *textDecoder {
	return &textDecoder{src: src}
}

// prime reads once from the source and checks what arrived, so that invalid base64 there is
// reported before the body is handed on. It returns a *corruptError or nil; a read error is
// kept for Read.
func (d *textDecoder) prime() error {
	d.fill()
	start, off := d.start, d.off
	var scratch [768]byte
	for d.decode(scratch[:]) > 0 {
	}
	if c := d.bad.Load(); c != nil {
		return c
	}
	// Checked only: rewind, so that Read decodes straight into its caller's buffer.
	d.start, d.off, d.err = start, off, nil
	return nil
}

// Read decodes into p. It returns a *corruptError on invalid base64 and the source's error
// (io.EOF at the end) once everything before it has been returned.
func (d *textDecoder) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for len(d.pend) == 0 {
		if len(p) >= 3 {
			if n := d.decode(p); n > 0 {
				return n, nil
			}
		} else if n := d.decode(d.small[:]); n > 0 {
			d.pend = d.small[:n]
			break
		}
		if d.err != nil {
			return 0, d.err
		}
		d.fill()
	}
	n := copy(p, d.pend)
	d.pend = d.pend[n:]
	return n, nil
}

// Close closes the source.
func (d *textDecoder) Close() error { return d.src.Close() }

// failed returns the invalid base64 met so far, or nil.
func (d *textDecoder) failed() *corruptError { return d.bad.Load() }

// decode decodes buffered whole groups into dst, at most len(dst)/3 of them and none past the
// end of the current segment, and returns the number of bytes written. It returns 0 when more
// input is needed, or when it sets d.err.
func (d *textDecoder) decode(dst []byte) int {
	if d.err != nil || len(dst) < 3 {
		return 0
	}
	in := d.buf[d.start:d.end]
	n := segmentEnd(in)
	if limit := len(dst) / 3 * 4; n > limit {
		n = limit
	}
	if n == 0 {
		if d.srcErr != nil {
			return d.decodeTail(dst, in)
		}
		return 0
	}
	k, err := base64.StdEncoding.Decode(dst, in[:n])
	if err != nil {
		d.corrupt(err)
		return 0
	}
	d.start += n
	d.off += int64(n)
	return k
}

// decodeTail handles the fewer than four characters left when the source has ended.
func (d *textDecoder) decodeTail(dst, in []byte) int {
	if len(in) == 0 || d.srcErr != io.EOF {
		d.err = d.srcErr
		return 0
	}
	if len(in) == 1 {
		d.corrupt(base64.CorruptInputError(0))
		return 0
	}
	k, err := base64.RawStdEncoding.Decode(dst, in)
	if err != nil {
		d.corrupt(err)
		return 0
	}
	d.start = d.end
	d.off += int64(len(in))
	return k
}

// corrupt records invalid base64 reported by the base64 package for input at d.start.
func (d *textDecoder) corrupt(err error) {
	var at int64
	var ce base64.CorruptInputError
	if errors.As(err, &ce) {
		at = int64(ce)
	}
	c := &corruptError{off: d.off + at}
	d.bad.Store(c)
	d.err = c
}

// fill reads once from the source after the unconsumed input, which decode leaves shorter than
// one group, so there is always room.
func (d *textDecoder) fill() {
	if d.srcErr != nil {
		return
	}
	if d.start > 0 {
		d.end = copy(d.buf[:], d.buf[d.start:d.end])
		d.start = 0
	}
	n, err := d.src.Read(d.buf[d.end:])
	d.end += stripNewlines(d.buf[d.end : d.end+n])
	if err != nil {
		d.srcErr = err
	}
}

// segmentEnd returns the length of the longest prefix of whole groups of in that holds padding,
// if any, only in its last group.
func segmentEnd(in []byte) int {
	n := len(in) &^ 3
	if i := bytes.IndexByte(in[:n], '='); i >= 0 {
		return i&^3 + 4
	}
	return n
}

// stripNewlines removes CR and LF from b in place and returns the new length.
func stripNewlines(b []byte) int {
	if bytes.IndexByte(b, '\n') < 0 && bytes.IndexByte(b, '\r') < 0 {
		return len(b)
	}
	n := 0
	for _, c := range b {
		if c != '\r' && c != '\n' {
			b[n] = c
			n++
		}
	}
	return n
}
