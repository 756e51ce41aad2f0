package listener

import (
	"crypto/tls"
	"errors"
	"net"
	"slices"

	"golang.org/x/net/http2/hpack"
)

// The h2 guard is a read filter in front of golang.org/x/net/http2's server
// that turns two of its deliberate deviations from RFC 9113 into what the
// RFC asks for, by rewriting the client's frames before the server reads
// them (x/net is not forked):
//
//   - A SETTINGS frame that repeats an id is a connection error in x/net
//     (a flood defence); RFC 9113 6.5.3 says values are processed in order.
//     The guard rewrites the frame so each id appears once, with its last
//     value, which is what processing in order leaves behind. Frames of more
//     than 100 entries reach x/net as sent, so its size limit still applies.
//   - A request with a connection-specific header, or TE other than
//     "trailers", is answered 400 by x/net; RFC 9113 8.2.2 makes it a
//     malformed message, which 8.1.1 resets with PROTOCOL_ERROR. The guard
//     decodes every header block with a shadow HPACK decoder kept in step
//     with the server's, and appends to such a block a literal pseudo-header
//     field (never indexed, so both dynamic tables stay equal). A pseudo
//     header after regular ones is a stream error in x/net's framer, so the
//     server resets that stream and keeps the connection.
//
// The set of headers mirrors x/net's checkValidHTTP2RequestHeaders, so a
// request x/net would serve passes unchanged. The shadow decoder is made as
// x/net's server makes its own (hpack.NewDecoder with the table size it
// advertises, never changed later) and is fed every header block in order.
//
// Memory: frames other than HEADERS, CONTINUATION and SETTINGS pass
// straight into the caller's buffer. Reads never run past the next frame
// header, so the guard holds at most one frame (plus room for the marker
// and a CONTINUATION header) and the hpack decoder's bounded state. Anything the guard cannot
// follow (a malformed frame or HPACK block, a header block larger than the
// limit, a frame larger than the server reads) turns it off for the rest of
// the connection: bytes then pass untouched and x/net reports the error.

const (
	frameHeaderLen    = 9
	frameHeaders      = 0x1
	frameSettings     = 0x4
	frameContinuation = 0x9
	flagAck           = 0x1
	flagEndHeaders    = 0x4
	flagPadded        = 0x8
	flagPriority      = 0x20
	settingLen        = 6
	// maxSettingsRewrite is x/net's own limit on entries per SETTINGS frame.
	maxSettingsRewrite = 100
	defaultH2FrameSize = 16384 // RFC 9113 4.2: every server reads frames this large
	defaultH2TableSize = 4096  // RFC 9113 6.5.2 SETTINGS_HEADER_TABLE_SIZE default
)

// invalidMarker is an HPACK "literal header field without indexing, new
// name" (RFC 7541 6.2.2) for ":bouncer-invalid" with an empty value.
var invalidMarker = []byte("\x00\x10:bouncer-invalid\x00")

// h2GuardConfig is what the guard must know of the server behind it.
type h2GuardConfig struct {
	maxFrame   int    // the server's SETTINGS_MAX_FRAME_SIZE (what it reads)
	maxBlock   int    // largest encoded header block followed; larger: guard off
	tableSize  uint32 // the server's SETTINGS_HEADER_TABLE_SIZE (its decoder's)
	prefaceLen int    // bytes passed before the first frame
}

// h2GuardConn filters Read of one server-side HTTP/2 connection. Read must
// be called from one goroutine at a time (x/net's reader goroutine); the
// other methods are the wrapped conn's.
type h2GuardConn struct {
	net.Conn
	cfg h2GuardConfig

	off   bool  // gave up: everything passes through
	rerr  error // an error that came with data, reported by the next read
	skip  int   // bytes of a passed frame (or the preface) still to come
	hdr   [frameHeaderLen]byte
	hdrN  int    // bytes of the next frame header in hdr
	frame []byte // a held frame: header and the payload read so far
	need  int    // full length of the held frame; 0: none held
	out   []byte // processed bytes not yet returned

	dec     *hpack.Decoder
	inBlock bool // a header block is open (END_HEADERS not seen yet)
	block   blockState
}

// blockState is what the shadow decoder learnt of the open header block.
type blockState struct {
	stream     uint32
	size       int  // encoded bytes so far
	bad        bool // a connection-specific header or TE other than "trailers"
	invalid    bool // malformed already in x/net's eyes: it resets the stream itself
	sawRegular bool
	te         int
}

// h2GuardTLSConn keeps the TLS state visible to x/net, which looks for a
// ConnectionState method to fill r.TLS and check the TLS version.
type h2GuardTLSConn struct {
	*h2GuardConn
	tc *tls.Conn
}

// ConnectionState is the wrapped TLS connection's state.
func (c *h2GuardTLSConn) ConnectionState() tls.ConnectionState { return c.tc.ConnectionState() }

// newH2Guard wraps c, which starts with the client preface.
func newH2Guard(c net.Conn, cfg h2GuardConfig) net.Conn {
	g := &h2GuardConn{Conn: c, cfg: cfg, skip: cfg.prefaceLen}
	g.dec = hpack.NewDecoder(cfg.tableSize, g.onField)
	g.dec.SetMaxStringLength(cfg.maxBlock)
	if tc := tlsConn(c); tc != nil {
		return &h2GuardTLSConn{h2GuardConn: g, tc: tc}
	}
	return g
}

// Read returns the client's bytes, with SETTINGS and header frames
// rewritten as described above. It blocks like the wrapped Read; a held
// frame is returned once it is complete.
func (c *h2GuardConn) Read(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	for {
		if len(c.out) > 0 {
			n := copy(b, c.out)
			c.out = c.out[n:]
			return n, nil
		}
		var err error
		switch {
		case c.off:
			return c.read(b)
		case c.skip > 0:
			return c.readPassing(b)
		case c.need > 0:
			err = c.fill()
		default:
			err = c.readHeader()
		}
		if err != nil {
			return 0, err
		}
	}
}

// CloseWrite half-closes the socket underneath.
func (c *h2GuardConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// read reads from the wrapped conn and returns data or an error, never
// both: an error that comes with data waits for the next call.
func (c *h2GuardConn) read(p []byte) (int, error) {
	if err := c.rerr; err != nil {
		c.rerr = nil
		return 0, err
	}
	n, err := c.Conn.Read(p)
	if n > 0 && err != nil {
		c.rerr, err = err, nil
	}
	return n, err
}

// readPassing reads the rest of a passed frame straight into b, and at
// most the next frame's header after it, which it keeps.
func (c *h2GuardConn) readPassing(b []byte) (int, error) {
	n, err := c.read(b[:min(len(b), c.skip+frameHeaderLen)])
	if err != nil {
		return 0, err
	}
	pass := min(n, c.skip)
	c.skip -= pass
	c.hdrN = copy(c.hdr[:], b[pass:n])
	return pass, nil
}

// readHeader reads the next frame header and decides whether the frame
// passes or is held.
func (c *h2GuardConn) readHeader() error {
	if c.hdrN < frameHeaderLen {
		n, err := c.read(c.hdr[c.hdrN:])
		c.hdrN += n
		if err != nil {
			return c.fail(err, c.hdr[:c.hdrN])
		}
		if c.hdrN < frameHeaderLen {
			return nil
		}
	}
	c.hdrN = 0
	h := c.hdr[:]
	length := int(h[0])<<16 | int(h[1])<<8 | int(h[2])
	if !c.holds(length, h[3], h[4], streamID(h)) {
		c.out = h
		c.skip = length
		return nil
	}
	c.need = frameHeaderLen + length
	// Room for the marker and a CONTINUATION header, so mark never
	// reallocates.
	c.frame = append(slices.Grow(c.frame[:0], c.need+frameHeaderLen+len(invalidMarker)), h...)
	return nil
}

// holds reports whether a frame must be held (read whole) to be
// inspected; it turns the guard off for frames it cannot follow.
func (c *h2GuardConn) holds(length int, typ, flags byte, stream uint32) bool {
	switch {
	case typ == frameSettings:
		n := length / settingLen
		return flags&flagAck == 0 && stream == 0 && length%settingLen == 0 && n > 1 && n <= maxSettingsRewrite
	case typ != frameHeaders && typ != frameContinuation:
		// RFC 9113 6.10: only CONTINUATION may follow an open block.
		c.off = c.inBlock
		return false
	case length > c.cfg.maxFrame:
		c.off = true // x/net refuses the frame (FRAME_SIZE_ERROR)
		return false
	}
	return true
}

// fill reads the rest of the held frame and processes it.
func (c *h2GuardConn) fill() error {
	for len(c.frame) < c.need {
		n, err := c.read(c.frame[len(c.frame):c.need])
		c.frame = c.frame[:len(c.frame)+n]
		if err != nil {
			return c.fail(err, c.frame)
		}
	}
	c.need = 0
	if c.frame[3] == frameSettings {
		c.out = dedupeSettings(c.frame)
	} else {
		c.out = c.headerFrame(c.frame)
	}
	return nil
}

// fail handles a read error while bytes are held. A timeout keeps the
// state, so a retry resumes; any other error turns the guard off and
// returns the held bytes first, then the error.
func (c *h2GuardConn) fail(err error, held []byte) error {
	if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
		return err
	}
	c.off, c.need, c.hdrN = true, 0, 0
	if len(held) == 0 {
		return err
	}
	c.out, c.rerr = held, err
	return nil
}
