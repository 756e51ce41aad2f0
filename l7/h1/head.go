package h1

import (
	"bufio"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/net/http/httpguts"
)

// sendHead decides the framing and writes the response head, then the
// body held so far. final tells that the handler has returned, so the held
// body is all there is.
func (w *response) sendHead(final bool) error {
	w.headSent = true
	h := w.header
	autoLen := w.frame(final)
	conn := h["Connection"]
	if w.c.srv.noKeepAlive.Load() || (w.body != nil && w.body.mustClose()) ||
		httpguts.HeaderValuesContainsToken(conn, "close") {
		w.closeAfter = true
	}
	bw := w.c.bw
	writeStatusLine(bw, w.status)
	writeFields(bw, h, w.status)
	if _, ok := h["Date"]; !ok {
		writeDate(bw)
	}
	if autoLen >= 0 {
		_, _ = bw.WriteString("Content-Length: ")
		_, _ = bw.Write(strconv.AppendInt(bw.AvailableBuffer(), autoLen, 10))
		_, _ = bw.WriteString("\r\n")
	}
	if w.chunked {
		_, _ = bw.WriteString("Transfer-Encoding: chunked\r\n")
	}
	switch {
	case w.closeAfter && !httpguts.HeaderValuesContainsToken(conn, "close"):
		_, _ = bw.WriteString("Connection: close\r\n")
	case !w.closeAfter && !w.req.ProtoAtLeast(1, 1):
		_, _ = bw.WriteString("Connection: keep-alive\r\n") // an HTTP/1.0 client that asked for it
	}
	_, err := bw.WriteString("\r\n")
	if len(w.buf) > 0 {
		_, err = w.writeBody(w.buf)
		w.buf = w.buf[:0]
	}
	return err
}

// frame picks how the body is delimited. It returns the Content-Length to
// add (-1: none) and sets chunked or closeAfter.
func (w *response) frame(final bool) int64 {
	if _, ok := w.header["Content-Length"]; ok && w.clen < 0 {
		delete(w.header, "Content-Length") // set after WriteHeader: too late, as in net/http
	}
	switch {
	case !bodyAllowed(w.status) || w.clen >= 0:
		return -1 // no body, or the handler's own Content-Length
	case w.isHead:
		if final && w.written > 0 {
			return w.written
		}
		return -1
	case final && !hasTrailers(w.header):
		return int64(len(w.buf))
	case w.req.ProtoAtLeast(1, 1):
		w.chunked = true
	default:
		w.closeAfter = true // HTTP/1.0: the body ends with the connection
	}
	return -1
}

// hasTrailers reports whether the handler declared or set trailers.
func hasTrailers(h http.Header) bool {
	if _, ok := h["Trailer"]; ok {
		return true
	}
	for k := range h {
		if strings.HasPrefix(k, http.TrailerPrefix) {
			return true
		}
	}
	return false
}

// writeFields writes the handler's header fields. Framing fields are the
// server's own; a response without a body gets none (and a 304 no
// Content-Type), as in net/http. Invalid names are skipped and line
// breaks in values become spaces, so a handler cannot split the response.
func writeFields(bw *bufio.Writer, h http.Header, status int) {
	noBody := !bodyAllowed(status)
	for k, vv := range h {
		switch {
		case k == "Transfer-Encoding" || strings.HasPrefix(k, http.TrailerPrefix):
			continue
		case noBody && (k == "Content-Length" || status == http.StatusNotModified && k == "Content-Type"):
			continue
		case !httpguts.ValidHeaderFieldName(k):
			continue
		}
		for _, v := range vv {
			writeField(bw, k, v)
		}
	}
}

func writeField(bw *bufio.Writer, k, v string) {
	_, _ = bw.WriteString(k)
	_, _ = bw.WriteString(": ")
	if strings.ContainsAny(v, "\r\n") {
		v = strings.Map(func(r rune) rune {
			if r == '\r' || r == '\n' {
				return ' '
			}
			return r
		}, v)
	}
	_, _ = bw.WriteString(v)
	_, _ = bw.WriteString("\r\n")
}

// writeTrailers writes the trailer fields after the last chunk: those
// named in the Trailer field, and those set with http.TrailerPrefix.
func writeTrailers(bw *bufio.Writer, h http.Header) {
	for _, decl := range h["Trailer"] {
		for name := range strings.SplitSeq(decl, ",") {
			k := http.CanonicalHeaderKey(strings.TrimSpace(name))
			if !validTrailer(k) {
				continue
			}
			for _, v := range h[k] {
				writeField(bw, k, v)
			}
		}
	}
	for k, vv := range h {
		name, ok := strings.CutPrefix(k, http.TrailerPrefix)
		if !ok || !validTrailer(name) {
			continue
		}
		name = http.CanonicalHeaderKey(name)
		for _, v := range vv {
			writeField(bw, name, v)
		}
	}
}

// validTrailer refuses names that must not be trailers (RFC 9110 section
// 6.5.1: framing, routing and the like).
func validTrailer(k string) bool {
	if k == "" || !httpguts.ValidHeaderFieldName(k) {
		return false
	}
	switch http.CanonicalHeaderKey(k) {
	case "Transfer-Encoding", "Content-Length", "Trailer", "Host", "Connection", "Content-Type":
		return false
	}
	return true
}

// statusLines holds the status line of every registered code.
var statusLines = func() [600]string {
	var t [600]string
	for code := 100; code < len(t); code++ {
		if txt := http.StatusText(code); txt != "" {
			t[code] = "HTTP/1.1 " + strconv.Itoa(code) + " " + txt + "\r\n"
		}
	}
	return t
}()

func writeStatusLine(bw *bufio.Writer, code int) {
	if code < len(statusLines) && statusLines[code] != "" {
		_, _ = bw.WriteString(statusLines[code])
		return
	}
	_, _ = bw.WriteString("HTTP/1.1 ")
	_, _ = bw.Write(strconv.AppendInt(bw.AvailableBuffer(), int64(code), 10))
	_, _ = bw.WriteString(" \r\n") // an empty reason phrase (RFC 9112 section 4)
}

// dateLine is a formatted Date field for one second.
type dateLine struct {
	sec  int64
	line []byte
}

var dateCache atomic.Pointer[dateLine]

// writeDate writes the Date field, formatted once per second.
func writeDate(bw *bufio.Writer) {
	now := time.Now()
	d := dateCache.Load()
	if d == nil || d.sec != now.Unix() {
		b := now.UTC().AppendFormat([]byte("Date: "), http.TimeFormat)
		d = &dateLine{sec: now.Unix(), line: append(b, "\r\n"...)}
		dateCache.Store(d)
	}
	_, _ = bw.Write(d.line)
}
