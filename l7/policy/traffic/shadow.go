package traffic

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/bouncer-proxy/bouncer/l7"
)

// errBodyTooLarge says a body of unknown length went over the mirror limit.
var errBodyTooLarge = errors.New("mirror: body over max_body_bytes")

// replayBody gives the primary the bytes read ahead, then whatever is left
// of the original body; Close closes the original.
type replayBody struct {
	io.Reader
	io.Closer
}

// readAhead reads r's body, at most max bytes, and returns it with the
// request the primary should serve (a shallow copy whose body replays what
// was read). A body over max, or one that fails to read, is not lost: the
// primary's body is what was read followed by the rest of the original.
func readAhead(r *http.Request, max int64) ([]byte, *http.Request, error) {
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
		return nil, r, nil
	}
	var buf bytes.Buffer
	if r.ContentLength > 0 {
		buf.Grow(int(r.ContentLength) + bytes.MinRead) // room to see EOF without regrowing
	}
	_, err := buf.ReadFrom(io.LimitReader(r.Body, max+1))
	if err == nil && int64(buf.Len()) > max {
		err = errBodyTooLarge
	}
	p := new(http.Request)
	*p = *r
	data := buf.Bytes()
	if err != nil {
		p.Body = replayBody{io.MultiReader(bytes.NewReader(data), r.Body), r.Body}
		return nil, p, err
	}
	p.Body = replayBody{bytes.NewReader(data), r.Body}
	return data, p, nil
}

// shadowRequest copies r for the shadow, without a body (launch sets it):
// a context that outlives the client's (context.WithoutCancel; launch
// adds the timeout), its own l7.Info so the shadow's handler does not
// write into the primary's access-log record, the -shadow host and the
// shadow header. It must run before the primary handler changes r.
func (m *Mirror) shadowRequest(r *http.Request) *http.Request {
	ctx := context.WithoutCancel(r.Context())
	if info := l7.InfoFrom(ctx); info != nil {
		own := l7.Info{
			Route: info.Route, RequestID: info.RequestID, Client: info.Client,
			ClientCert: info.ClientCert, Identity: info.Identity,
		}
		ctx = l7.WithInfo(ctx, &own)
	}
	s := r.Clone(ctx)
	s.Body = http.NoBody
	s.GetBody = nil
	s.ContentLength = 0
	if !m.keepHost {
		s.Host = shadowHost(r.Host)
	}
	s.Header.Set(ShadowHeader, "1")
	return s
}

// shadowHost appends "-shadow" to the host name, before a port if there is
// one (envoyproxy/envoy#2595: "host:8080-shadow" breaks port parsing).
func shadowHost(host string) string {
	if host == "" {
		return host
	}
	i := strings.LastIndexByte(host, ':')
	if i < 0 || i < strings.LastIndexByte(host, ']') {
		return host + "-shadow"
	}
	return host[:i] + "-shadow" + host[i:]
}

// discardWriter is the shadow's ResponseWriter: it keeps the status and
// throws the rest away.
type discardWriter struct {
	header http.Header
	status int
}

func (w *discardWriter) Header() http.Header {
	if w.header == nil {
		w.header = http.Header{}
	}
	return w.header
}

func (w *discardWriter) WriteHeader(code int) {
	if w.status == 0 && code >= 200 {
		w.status = code
	}
}

func (w *discardWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return len(p), nil
}

// Flush does nothing; it lets streaming handlers flush without checks.
func (w *discardWriter) Flush() {}

var (
	_ http.ResponseWriter = (*discardWriter)(nil)
	_ http.Flusher        = (*discardWriter)(nil)
)
