package compress

import (
	"fmt"
	"io"
	"sync"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// Content-coding names (RFC 9110 §8.4.1, RFC 7932, RFC 8878).
const (
	Zstd   = "zstd"
	Brotli = "br"
	Gzip   = "gzip"
)

// encoder is what the three libraries' writers have in common.
type encoder interface {
	io.Writer
	Flush() error
	Close() error
	Reset(io.Writer)
}

// coding is one configured content coding with its pool of encoders, so a
// response reuses an encoder's buffers instead of allocating its own.
type coding struct {
	name string
	hdr  []string // the Content-Encoding value, shared by responses
	pool sync.Pool
}

// get returns an encoder writing to w.
func (c *coding) get(w io.Writer) encoder {
	e := c.pool.Get().(encoder)
	e.Reset(w)
	return e
}

// put returns e to the pool after Close; it drops its destination so the
// pool does not keep a finished response alive.
func (c *coding) put(e encoder) {
	e.Reset(nil)
	c.pool.Put(e)
}

// defaultLevels are moderate levels for dynamic content: close to the best
// ratio per CPU second, not the best ratio.
var defaultLevels = map[string]int{Zstd: 3, Brotli: 4, Gzip: 5}

// zstdWindow bounds the zstd window: RFC 8878 §3.1.1.1.2 asks HTTP senders
// to keep it at most 8 MiB so browsers can decode, and a smaller one keeps
// pooled encoders light.
const zstdWindow = 1 << 20

// newCoding checks level and returns the coding with its pool.
func newCoding(name string, level int) (*coding, error) {
	c := &coding{name: name, hdr: []string{name}}
	switch name {
	case Zstd:
		if level < 1 || level > 22 {
			return nil, fmt.Errorf("compress: zstd level %d out of 1..22", level)
		}
		opts := []zstd.EOption{
			zstd.WithEncoderLevel(zstd.EncoderLevelFromZstd(level)),
			zstd.WithEncoderConcurrency(1), // synchronous: no goroutines per response
			zstd.WithWindowSize(zstdWindow),
			zstd.WithLowerEncoderMem(true),
		}
		first, err := zstd.NewWriter(nil, opts...)
		if err != nil {
			return nil, fmt.Errorf("compress: zstd: %w", err)
		}
		c.pool.Put(first)
		c.pool.New = func() any { e, _ := zstd.NewWriter(nil, opts...); return e }
	case Brotli:
		if level < brotli.BestSpeed || level > brotli.BestCompression {
			return nil, fmt.Errorf("compress: br level %d out of 0..11", level)
		}
		c.pool.New = func() any { return brotli.NewWriterLevel(nil, level) }
	case Gzip:
		if level < gzip.BestSpeed || level > gzip.BestCompression {
			return nil, fmt.Errorf("compress: gzip level %d out of 1..9", level)
		}
		c.pool.New = func() any { e, _ := gzip.NewWriterLevel(nil, level); return e }
	default:
		return nil, fmt.Errorf("compress: unknown encoding %q (want zstd, br or gzip)", name)
	}
	return c, nil
}
