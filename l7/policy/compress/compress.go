// Package compress compresses response bodies with zstd, brotli or gzip,
// as the client's Accept-Encoding allows (RFC 9110 §8.4 and §12.5.3).
package compress

import (
	"fmt"
	"net/http"
	"slices"
)

// Options is a route's compression policy.
type Options struct {
	// Encodings in the server's order of preference, used to break ties
	// between codings the client weighs equally: any of "zstd", "br",
	// "gzip". Default: zstd, br, gzip.
	Encodings []string
	// Levels by encoding name. Defaults: zstd 3 (1..22, mapped onto the
	// library's four speeds), br 4 (0..11), gzip 5 (1..9).
	Levels map[string]int
	// MinBytes is the smallest body compressed. A response with a
	// Content-Length below it is passed as is; one without is buffered up
	// to MinBytes before the choice is made. Default 1024; 0 means the
	// default, a negative value compresses bodies of any size.
	MinBytes int
	// ContentTypes are the media types compressed: exact, "type/*", or
	// "type/*+suffix". Default: DefaultContentTypes. A response without a
	// Content-Type is sniffed as net/http would, and the sniffed type set.
	ContentTypes []string
}

// Compressor is a compiled compression policy. It is immutable and safe
// for concurrent use; its encoders are pooled and shared by the responses
// it compresses.
type Compressor struct {
	codings  []*coding
	minBytes int
	types    typeSet
}

// New checks o and builds the encoder pools.
func New(o Options) (*Compressor, error) {
	names := o.Encodings
	if len(names) == 0 {
		names = []string{Zstd, Brotli, Gzip}
	}
	c := &Compressor{minBytes: o.MinBytes}
	for _, name := range names {
		if slices.ContainsFunc(c.codings, func(x *coding) bool { return x.name == name }) {
			return nil, fmt.Errorf("compress: encoding %q listed twice", name)
		}
		level, ok := o.Levels[name]
		if !ok {
			level = defaultLevels[name]
		}
		cd, err := newCoding(name, level)
		if err != nil {
			return nil, err
		}
		c.codings = append(c.codings, cd)
	}
	for name := range o.Levels {
		if !slices.Contains(names, name) {
			return nil, fmt.Errorf("compress: level given for encoding %q, which is not enabled", name)
		}
	}
	switch {
	case c.minBytes == 0:
		c.minBytes = 1024
	case c.minBytes < 0:
		c.minBytes = 0
	}
	types := o.ContentTypes
	if len(types) == 0 {
		types = DefaultContentTypes
	}
	var err error
	if c.types, err = compileTypes(types); err != nil {
		return nil, err
	}
	return c, nil
}

// Wrap returns a handler that calls next with a ResponseWriter that
// compresses the body when the request accepts one of the encodings and
// the response qualifies. Not compressed: HEAD and Range requests (passed
// straight through), responses that already have a Content-Encoding,
// Cache-Control: no-transform, status 1xx, 204 and 304, other media types,
// and bodies under MinBytes. A compressed response has Content-Encoding
// set, Content-Length and Accept-Ranges dropped, and a strong ETag made
// weak (the bytes differ from the identity representation's). Every
// response of a compressible type gets Vary: Accept-Encoding, compressed
// or not, so caches keep the variants apart.
//
// The writer implements http.Flusher: a Flush sends what has been written
// so far through the encoder, so server-sent events stay streaming. It
// reaches Hijack and deadlines through Unwrap (http.ResponseController).
// The encoder is returned to the pool when next returns; if next panics,
// the encoder is dropped, not reused.
func (c *Compressor) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodHead || r.Header.Get("Range") != "" {
			next.ServeHTTP(w, r)
			return
		}
		cw := &writer{ResponseWriter: w, c: c, coding: nil}
		if i := negotiate(r.Header.Values("Accept-Encoding"), c.codings); i >= 0 {
			cw.coding = c.codings[i]
		}
		next.ServeHTTP(cw, r)
		cw.finish()
	})
}
