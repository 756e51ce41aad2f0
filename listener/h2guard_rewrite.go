package listener

import (
	"golang.org/x/net/http/httpguts"
	"golang.org/x/net/http2/hpack"
)

// The rewrites of the h2 guard (h2guard.go): header blocks are marked,
// SETTINGS frames lose repeated ids.

// headerFrame feeds a HEADERS or CONTINUATION frame's fragment to the
// shadow decoder and returns the frame, marked if it ends a bad block.
func (c *h2GuardConn) headerFrame(f []byte) []byte {
	flags, padLen := f[4], 0
	start := frameHeaderLen
	if f[3] == frameHeaders {
		if c.inBlock {
			return c.giveUp(f) // x/net: connection error
		}
		if flags&flagPadded != 0 {
			if len(f) == start {
				return c.giveUp(f)
			}
			padLen = int(f[start])
			start++
		}
		if flags&flagPriority != 0 {
			start += 5
		}
		if start+padLen > len(f) {
			return c.giveUp(f)
		}
		c.inBlock = true
		c.block = blockState{stream: streamID(f)}
	} else if !c.inBlock || streamID(f) != c.block.stream {
		return c.giveUp(f)
	}
	frag := f[start : len(f)-padLen]
	c.block.size += len(frag)
	if c.block.size > c.cfg.maxBlock {
		return c.giveUp(f)
	}
	if _, err := c.dec.Write(frag); err != nil {
		return c.giveUp(f)
	}
	if flags&flagEndHeaders == 0 {
		return f
	}
	c.inBlock = false
	if err := c.dec.Close(); err != nil {
		return c.giveUp(f)
	}
	if !c.block.bad || c.block.invalid {
		return f
	}
	return c.mark(f, padLen)
}

// giveUp turns the guard off and returns f unchanged.
func (c *h2GuardConn) giveUp(f []byte) []byte {
	c.off = true
	return f
}

// mark appends invalidMarker to the header block that f ends: before f's
// padding when the frame stays within maxFrame, else in a CONTINUATION
// frame of its own that takes over END_HEADERS.
func (c *h2GuardConn) mark(f []byte, padLen int) []byte {
	payload := len(f) - frameHeaderLen + len(invalidMarker)
	if payload <= c.cfg.maxFrame {
		end := len(f)
		f = f[:end+len(invalidMarker)]
		copy(f[end-padLen+len(invalidMarker):], f[end-padLen:end])
		copy(f[end-padLen:], invalidMarker)
		putLength(f, payload)
		return f
	}
	f[4] &^= flagEndHeaders
	cont := len(f)
	f = append(f, make([]byte, frameHeaderLen)...)
	putLength(f[cont:], len(invalidMarker))
	f[cont+3], f[cont+4] = frameContinuation, flagEndHeaders
	copy(f[cont+5:cont+9], f[5:9])
	return append(f, invalidMarker...)
}

// onField is the shadow decoder's emit function: it applies x/net's rules
// for an invalid field (which x/net resets itself) and its rules for
// connection-specific fields (which x/net answers 400).
func (c *h2GuardConn) onField(f hpack.HeaderField) {
	b := &c.block
	if !httpguts.ValidHeaderFieldValue(f.Value) {
		b.invalid = true
	}
	if f.IsPseudo() {
		b.invalid = b.invalid || b.sawRegular
		return
	}
	b.sawRegular = true
	if !validLowerFieldName(f.Name) {
		b.invalid = true
	}
	switch f.Name {
	case "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade":
		b.bad = true
	case "te":
		// RFC 9113 8.2.2; like x/net, an empty value is let through.
		b.te++
		b.bad = b.bad || b.te > 1 || (f.Value != "trailers" && f.Value != "")
	}
}

// validLowerFieldName reports whether name is a token without upper case
// letters (RFC 9113 8.2.1).
func validLowerFieldName(name string) bool {
	for i := 0; i < len(name); i++ {
		if 'A' <= name[i] && name[i] <= 'Z' {
			return false
		}
	}
	return httpguts.ValidHeaderFieldName(name)
}

// dedupeSettings rewrites, in place, a SETTINGS frame whose ids repeat so
// that each id appears once with its last value, in the order of last
// appearance; applying it equals applying the original in order. f is
// returned unchanged when no id repeats.
func dedupeSettings(f []byte) []byte {
	p := f[frameHeaderLen:]
	n := len(p) / settingLen
	out := frameHeaderLen
	for i := range n {
		e := p[i*settingLen : (i+1)*settingLen]
		if !settingLater(p, i, e[0], e[1]) {
			// out <= frameHeaderLen+i*settingLen: only entries already
			// read are overwritten.
			out += copy(f[out:], e)
		}
	}
	if out == len(f) {
		return f
	}
	putLength(f, out-frameHeaderLen)
	return f[:out]
}

// settingLater reports whether an entry after the i-th has the id hi, lo.
func settingLater(p []byte, i int, hi, lo byte) bool {
	for j := (i + 1) * settingLen; j < len(p); j += settingLen {
		if p[j] == hi && p[j+1] == lo {
			return true
		}
	}
	return false
}

func streamID(h []byte) uint32 {
	return (uint32(h[5])<<24 | uint32(h[6])<<16 | uint32(h[7])<<8 | uint32(h[8])) & (1<<31 - 1)
}

func putLength(h []byte, n int) {
	h[0], h[1], h[2] = byte(n>>16), byte(n>>8), byte(n)
}
