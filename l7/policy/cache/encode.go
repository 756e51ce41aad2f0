package cache

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// entryVersion is the first byte of a serialized entry; a store holding
// another version reads as a miss.
const entryVersion = 1

// ErrCorrupt says serialized entry bytes do not decode.
var ErrCorrupt = errors.New("cache: corrupt entry")

// MarshalBinary serializes e for stores that keep bytes (RedisStore).
// Times keep nanoseconds; the body is stored as is.
func (e *Entry) MarshalBinary() ([]byte, error) {
	b := make([]byte, 0, e.Size()+32)
	b = append(b, entryVersion)
	b = binary.AppendUvarint(b, uint64(e.Status))
	b = appendTime(b, e.RequestTime)
	b = appendTime(b, e.ResponseTime)
	b = appendTime(b, e.Until)
	b = appendString(b, e.Variants)
	b = binary.AppendUvarint(b, uint64(len(e.Vary)))
	for _, v := range e.Vary {
		b = appendString(b, v)
	}
	b = binary.AppendUvarint(b, uint64(len(e.Header)))
	for k, vs := range e.Header {
		b = appendString(b, k)
		b = binary.AppendUvarint(b, uint64(len(vs)))
		for _, v := range vs {
			b = appendString(b, v)
		}
	}
	b = binary.AppendUvarint(b, uint64(len(e.Body)))
	return append(b, e.Body...), nil
}

// UnmarshalBinary fills e from MarshalBinary's output. Malformed input is
// an error wrapping ErrCorrupt, never a panic.
func (e *Entry) UnmarshalBinary(data []byte) error {
	if len(data) == 0 || data[0] != entryVersion {
		return fmt.Errorf("%w: unknown version", ErrCorrupt)
	}
	d := decoder{buf: data[1:]}
	e.Status = int(d.uvarint())
	e.RequestTime, e.ResponseTime, e.Until = d.time(), d.time(), d.time()
	e.Variants = d.string()
	if n := d.count(); n > 0 {
		e.Vary = make([]string, n)
		for i := range e.Vary {
			e.Vary[i] = d.string()
		}
	}
	n := d.count()
	e.Header = make(http.Header, n)
	for i := 0; i < n && d.err == nil; i++ {
		k := d.string()
		vs := make([]string, d.count())
		for j := range vs {
			vs[j] = d.string()
		}
		e.Header[k] = vs
	}
	e.Body = d.bytes()
	if d.err == nil && len(d.buf) != 0 {
		d.err = errors.New("trailing bytes")
	}
	if d.err != nil {
		return fmt.Errorf("%w: %w", ErrCorrupt, d.err)
	}
	e.meta.Store(nil)
	return nil
}

func appendTime(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return binary.AppendVarint(b, 0)
	}
	return binary.AppendVarint(b, t.UnixNano())
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// decoder reads MarshalBinary's fields; after the first error every read
// returns a zero value and err keeps that error.
type decoder struct {
	buf []byte
	err error
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.buf)
	if n <= 0 {
		d.err = errors.New("bad varint")
		return 0
	}
	d.buf = d.buf[n:]
	return v
}

func (d *decoder) time() time.Time {
	if d.err != nil {
		return time.Time{}
	}
	v, n := binary.Varint(d.buf)
	if n <= 0 {
		d.err = errors.New("bad time")
		return time.Time{}
	}
	d.buf = d.buf[n:]
	if v == 0 {
		return time.Time{}
	}
	return time.Unix(0, v)
}

// count reads a length that cannot exceed the bytes left, since every
// counted item takes at least one byte.
func (d *decoder) count() int {
	n := d.uvarint()
	if n > uint64(len(d.buf)) {
		d.err = errors.New("count past end")
		return 0
	}
	return int(n)
}

func (d *decoder) bytes() []byte {
	n := d.count()
	if d.err != nil {
		return nil
	}
	b := d.buf[:n:n]
	d.buf = d.buf[n:]
	return b
}

func (d *decoder) string() string { return string(d.bytes()) }
