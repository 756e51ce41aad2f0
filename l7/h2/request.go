package h2

import (
	"io"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"

	"golang.org/x/net/http/httpguts"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/bouncer-proxy/bouncer/l7/internal/h2hdr"
	"github.com/bouncer-proxy/bouncer/l7/internal/hdrkey"
)

// newRequest builds the request of a HEADERS frame, or the stream error
// code of a malformed one (RFC 9113 8.1.1, 8.2, 8.3). The Framer already
// checked field names (lower case, valid), values, and the order and
// kind of pseudo-header fields.
//
// The request is built in *req, which the caller keeps on its stack: the
// request the handler gets is a copy made with its context (WithContext),
// so building it on the heap would allocate it twice.
func (sc *conn) newRequest(f *h2hdr.Block, req *http.Request) (int64, http2.ErrCode) {
	method := f.PseudoValue("method")
	path := f.PseudoValue("path")
	authority := f.PseudoValue("authority")
	if !validPseudo(f, method, path, authority) {
		return 0, http2.ErrCodeProtocol
	}
	h, ok := requestHeader(f.RegularFields())
	if !ok {
		return 0, http2.ErrCodeProtocol
	}
	declared, ok := contentLength(h["Content-Length"])
	if !ok || (f.StreamEnded() && declared > 0) {
		return 0, http2.ErrCodeProtocol
	}
	host := authority
	if host == "" {
		host = h.Get("Host")
	}
	*req = http.Request{
		Method:     method,
		Proto:      "HTTP/2.0",
		ProtoMajor: 2,
		Header:     h,
		Host:       host,
		RemoteAddr: sc.remote,
		RequestURI: path,
		TLS:        sc.tls,
	}
	if method == http.MethodConnect {
		req.URL = &url.URL{Host: authority}
		req.RequestURI = authority
	} else if u, ok := parsePath(path); ok {
		req.URL = u
	} else {
		return 0, http2.ErrCodeProtocol
	}
	req.Trailer = declaredTrailers(h)
	return declared, 0
}

// validPseudo checks the request pseudo-header fields (8.3.1, 8.5).
func validPseudo(f *h2hdr.Block, method, path, authority string) bool {
	scheme := f.PseudoValue("scheme")
	if f.PseudoValue("status") != "" || f.PseudoValue("protocol") != "" {
		return false
	}
	if method == http.MethodConnect {
		// 8.5: CONNECT carries :authority only (no extended CONNECT).
		return path == "" && scheme == "" && authority != ""
	}
	return method != "" && scheme != "" && path != "" && validPath(path, method)
}

// requestHeader builds the header of the regular fields; false for a
// connection-specific field or TE other than trailers (8.2.2). Cookie
// fields are joined into one (8.2.3).
func requestHeader(fields []hpack.HeaderField) (http.Header, bool) {
	h := make(http.Header, len(fields))
	vals := make([]string, len(fields))
	var cookies []string
	for i, hf := range fields {
		switch hf.Name {
		case "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade":
			return nil, false
		case "te":
			if hf.Value != "trailers" {
				return nil, false
			}
		case "cookie":
			cookies = append(cookies, hf.Value)
			continue
		}
		k := hdrkey.Canonical(hf.Name)
		if old, ok := h[k]; ok {
			h[k] = append(old, hf.Value)
			continue
		}
		vals[i] = hf.Value
		h[k] = vals[i : i+1 : i+1]
	}
	if len(cookies) > 0 {
		h["Cookie"] = []string{strings.Join(cookies, "; ")}
	}
	return h, true
}

// declaredTrailers takes the Trailer field out of h and returns the
// trailer names it declares, with nil values (nil if none).
func declaredTrailers(h http.Header) http.Header {
	tr := h["Trailer"]
	if len(tr) == 0 {
		return nil
	}
	t := http.Header{}
	for _, v := range tr {
		for _, k := range strings.Split(v, ",") {
			if k = textproto.TrimString(k); k != "" && httpguts.ValidHeaderFieldName(k) {
				t[http.CanonicalHeaderKey(k)] = nil
			}
		}
	}
	delete(h, "Trailer")
	return t
}

// validPath: origin-form, or "*" for OPTIONS (8.3.1).
func validPath(p, method string) bool {
	return p[0] == '/' || (p == "*" && method == http.MethodOptions)
}

// parsePath makes the request URL; paths of plain characters skip the
// general parser.
func parsePath(p string) (*url.URL, bool) {
	path, query, _ := strings.Cut(p, "?")
	for i := 0; i < len(path); i++ {
		if !plainPathByte[path[i]] {
			u, err := url.ParseRequestURI(p)
			return u, err == nil
		}
	}
	if strings.IndexByte(query, '#') >= 0 {
		return nil, false
	}
	return &url.URL{Path: path, RawQuery: query}, true
}

// plainPathByte: the unreserved and sub-delims characters, '/', ':' and '@'
// (RFC 3986 pchar without pct-encoding).
var plainPathByte = func() (t [256]bool) {
	for _, c := range "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&'()*+,;=:@/" {
		t[c] = true
	}
	return t
}()

// requestBody is the body of a request that did not end with its headers.
type requestBody struct{ st *stream }

// Read returns buffered body bytes, waiting for more; io.EOF after the
// client's END_STREAM, with the trailers copied into the request.
func (b *requestBody) Read(p []byte) (int, error) {
	st := b.st
	st.mu.Lock()
	if st.needContinue {
		st.needContinue = false
		st.mu.Unlock()
		st.rw.writeContinue()
		st.mu.Lock()
	}
	for st.head == len(st.buf) && !st.recvEnd && st.err == nil && !st.bodyClosed {
		st.cond.Wait()
	}
	switch {
	case st.bodyClosed:
		err := errBodyClosed
		if st.err != nil {
			err = st.err // reset, or the connection ended
		}
		st.mu.Unlock()
		return 0, err
	case st.head < len(st.buf):
		n := copy(p, st.buf[st.head:])
		st.head += n
		st.recvWindow += n
		st.unacked += n
		incr := 0
		if !st.recvEnd && st.unacked >= streamWindow/4 {
			incr, st.unacked = st.unacked, 0
		}
		var err error
		if st.head == len(st.buf) && st.recvEnd {
			err = st.eofLocked()
		}
		st.mu.Unlock()
		st.refund(n, incr)
		return n, err
	case st.recvEnd:
		err := st.eofLocked()
		st.mu.Unlock()
		return 0, err
	}
	err := st.err
	st.mu.Unlock()
	return 0, err
}

// BufferedComplete returns the body's length when the client has ended it
// and all of it is buffered, unread, and without trailers; -1 otherwise.
// A proxy then sends it on with the request headers.
func (b *requestBody) BufferedComplete() int {
	st := b.st
	st.mu.Lock()
	defer st.mu.Unlock()
	if !st.recvEnd || st.err != nil || st.bodyClosed || st.needContinue || len(st.trailer) > 0 || st.unacked > 0 {
		return -1
	}
	return len(st.buf) - st.head
}

// eofLocked copies the trailers into the request at end of body.
func (st *stream) eofLocked() error {
	for k, vv := range st.trailer {
		if st.req.Trailer == nil {
			st.req.Trailer = http.Header{}
		}
		st.req.Trailer[k] = vv
	}
	st.trailer = nil
	return io.EOF
}

// refund returns consumed bytes to the client's windows.
func (st *stream) refund(n, streamIncr int) {
	if streamIncr > 0 {
		_ = st.sc.write(func(fr *http2.Framer) error { return fr.WriteWindowUpdate(st.id, uint32(streamIncr)) })
	}
	st.sc.refundConn(n)
}

// Close discards what is buffered and what still comes.
func (b *requestBody) Close() error {
	b.st.discardBody()
	return nil
}

// discardBody drops the buffered request body and whatever still arrives,
// and gives the bytes nobody read back to the connection window.
func (st *stream) discardBody() {
	st.mu.Lock()
	unread := len(st.buf) - st.head
	st.buf, st.head = nil, 0
	st.bodyClosed = true
	st.cond.Broadcast()
	st.mu.Unlock()
	st.sc.refundConn(unread)
}
