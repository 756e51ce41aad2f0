// Package h2hdr reads and decodes HTTP/2 header blocks (a HEADERS frame
// and its CONTINUATION frames) for the read loop of one connection, into a
// field slice that is reused from block to block.
//
// It does what x/net's Framer does when ReadMetaHeaders is set, with the
// same checks and the same errors (RFC 9113 4.3, 8.2, 8.3; RFC 7541), but
// without a new MetaHeadersFrame, a new emit closure and a growing field
// slice for every block: at a few blocks per proxied request those were the
// largest share of the proxy's allocations. The Framer must be used
// without ReadMetaHeaders; it still enforces that CONTINUATION frames
// follow their HEADERS.
package h2hdr

import (
	"errors"
	"fmt"
	"strings"

	"golang.org/x/net/http/httpguts"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// Block is a decoded header block. Fields (and the frame) are valid until
// the next ReadBlock; the strings in them stay valid.
type Block struct {
	*http2.HeadersFrame // the first frame: stream, END_STREAM, priority
	// Fields in order, pseudo-header fields first. When Truncated, the
	// fields past the header list size limit were dropped.
	Fields    []hpack.HeaderField
	Truncated bool
}

// PseudoValue returns the value of pseudo-header field ":"+name, or "".
func (b *Block) PseudoValue(name string) string {
	for _, f := range b.Fields {
		if !f.IsPseudo() {
			return ""
		}
		if f.Name[1:] == name {
			return f.Value
		}
	}
	return ""
}

// PseudoFields are the pseudo-header fields.
func (b *Block) PseudoFields() []hpack.HeaderField {
	for i, f := range b.Fields {
		if !f.IsPseudo() {
			return b.Fields[:i]
		}
	}
	return b.Fields
}

// RegularFields are the fields after the pseudo-header fields.
func (b *Block) RegularFields() []hpack.HeaderField {
	for i, f := range b.Fields {
		if !f.IsPseudo() {
			return b.Fields[i:]
		}
	}
	return nil
}

// Decoder decodes the header blocks of one connection. Not safe for
// concurrent use: it belongs to the connection's read loop.
type Decoder struct {
	hpack *hpack.Decoder
	max   uint32 // header list size kept; fields past it truncate the block

	// Per block.
	blk        *Block
	remain     uint32 // what is left of max for regular fields
	trailers   uint32 // and for the trailer field's names
	sawRegular bool
	invalid    error
}

// NewDecoder makes a Decoder whose HPACK table holds tableSize bytes (the
// SETTINGS_HEADER_TABLE_SIZE this side advertises) and that keeps header
// lists up to maxList bytes (RFC 9113 6.5.2 sizes; 0: 16 MiB, as x/net).
func NewDecoder(tableSize, maxList uint32) *Decoder {
	if maxList == 0 {
		maxList = 16 << 20
	}
	d := &Decoder{max: maxList}
	d.hpack = hpack.NewDecoder(tableSize, d.emit)
	d.hpack.SetMaxStringLength(int(maxList))
	return d
}

var errPseudoAfterRegular = errors.New("pseudo header field after regular")

// emit checks and keeps one decoded field, as x/net's Framer does.
func (d *Decoder) emit(f hpack.HeaderField) {
	if !httpguts.ValidHeaderFieldValue(f.Value) {
		d.invalid = fmt.Errorf("invalid header field value for %q", f.Name)
	}
	if f.IsPseudo() {
		if d.sawRegular {
			d.invalid = errPseudoAfterRegular
		}
	} else {
		d.sawRegular = true
		if !validWireName(f.Name) {
			d.invalid = fmt.Errorf("invalid header field name %q", f.Name)
		}
	}
	if d.invalid != nil {
		d.hpack.SetEmitEnabled(false)
		return
	}
	remain, size := &d.remain, f.Size()
	if f.Name == "trailer" {
		// Count the declared trailer names against a budget of their own,
		// as if each were a field.
		n := uint32(strings.Count(f.Value, ",") + 1)
		remain, size = &d.trailers, uint32(len(f.Value))-n+1+n*hpack.HeaderField{}.Size()
	}
	if size > *remain {
		d.hpack.SetEmitEnabled(false)
		d.blk.Truncated = true
		d.remain, d.trailers = 0, 0
		return
	}
	*remain -= size
	d.blk.Fields = append(d.blk.Fields, f)
}

// validWireName: a token in lower case (RFC 9113 8.2.1).
func validWireName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if 'A' <= c && c <= 'Z' || !httpguts.IsTokenRune(rune(c)) {
			return false
		}
	}
	return true
}

// ReadBlock decodes the header block that hf starts into b, reading its
// CONTINUATION frames from fr. Errors are x/net's: a ConnectionError for
// an HPACK error (COMPRESSION_ERROR) or a block far over the limit
// (PROTOCOL_ERROR), a StreamError(PROTOCOL_ERROR) for invalid fields, or
// the read error of a CONTINUATION frame.
func (d *Decoder) ReadBlock(fr *http2.Framer, hf *http2.HeadersFrame, b *Block) error {
	b.HeadersFrame, b.Fields, b.Truncated = hf, b.Fields[:0], false
	d.blk, d.remain, d.trailers, d.sawRegular, d.invalid = b, d.max, d.max, false, nil
	d.hpack.SetEmitEnabled(true)
	defer func() { d.blk = nil }()
	frag, ended := hf.HeaderBlockFragment(), hf.HeadersEnded()
	for {
		// A fragment far larger than what may still be kept, or more
		// fragments after an invalid field: end the connection rather
		// than decode what will be thrown away.
		if int64(len(frag)) > 2*int64(d.remain+d.trailers) || d.invalid != nil {
			return http2.ConnectionError(http2.ErrCodeProtocol)
		}
		if _, err := d.hpack.Write(frag); err != nil {
			return http2.ConnectionError(http2.ErrCodeCompression)
		}
		if ended {
			break
		}
		f, err := fr.ReadFrame()
		if err != nil {
			return err
		}
		cf, ok := f.(*http2.ContinuationFrame) // the Framer checks the order
		if !ok {
			return http2.ConnectionError(http2.ErrCodeProtocol)
		}
		frag, ended = cf.HeaderBlockFragment(), cf.HeadersEnded()
	}
	if err := d.hpack.Close(); err != nil {
		return http2.ConnectionError(http2.ErrCodeCompression)
	}
	if d.invalid != nil {
		return http2.StreamError{StreamID: hf.StreamID, Code: http2.ErrCodeProtocol, Cause: d.invalid}
	}
	if err := checkPseudos(b.PseudoFields()); err != nil {
		return http2.StreamError{StreamID: hf.StreamID, Code: http2.ErrCodeProtocol, Cause: err}
	}
	return nil
}

// checkPseudos: known names only, none twice, not request and response
// fields together.
func checkPseudos(pf []hpack.HeaderField) error {
	var request, response bool
	for i, f := range pf {
		switch f.Name {
		case ":method", ":path", ":scheme", ":authority", ":protocol":
			request = true
		case ":status":
			response = true
		default:
			return fmt.Errorf("invalid pseudo-header %q", f.Name)
		}
		for _, g := range pf[:i] {
			if f.Name == g.Name {
				return fmt.Errorf("duplicate pseudo-header %q", f.Name)
			}
		}
	}
	if request && response {
		return errors.New("mix of request and response pseudo headers")
	}
	return nil
}
