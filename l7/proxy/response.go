package proxy

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/bouncer-proxy/bouncer/l7"
)

// bufPool holds copy buffers so streaming a body does not allocate.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// finish writes t's outcome to the client: the error, the switched
// protocol, or the streamed response with its trailers.
func (p *Proxy) finish(w http.ResponseWriter, r *http.Request, t *tryResult) {
	defer t.cancel()
	if t.res == nil {
		p.observe(t, 0)
		if t.fail != failCanceled {
			l7.WriteError(w, r, p.asError(t))
		}
		return
	}
	res := t.res
	defer res.Body.Close()
	if res.StatusCode == http.StatusSwitchingProtocols {
		p.switchProtocols(w, r, t)
		return
	}
	removeHopHeaders(res.Header)
	h := w.Header()
	copyHeader(h, res.Header)
	if _, ok := res.Header["Content-Type"]; !ok {
		h["Content-Type"] = nil // a proxy passes the type as sent: no sniffing
	}
	announced := len(res.Trailer)
	if announced > 0 {
		keys := make([]string, 0, announced)
		for k := range res.Trailer {
			keys = append(keys, k)
		}
		h.Add("Trailer", strings.Join(keys, ", "))
	}
	w.WriteHeader(res.StatusCode)
	err := copyBody(w, res.Body, flushEach(res))
	if len(res.Trailer) > 0 {
		for k, vv := range res.Trailer {
			if len(res.Trailer) != announced {
				k = trailerKey(k)
			}
			h[k] = append(h[k], vv...)
		}
	}
	t.report(res.StatusCode)
	p.observe(t, res.StatusCode)
	if errors.Is(err, errUpstreamRead) && r.Context().Err() == nil {
		// The upstream broke mid-body: abort the client's response rather
		// than let a truncated body look complete.
		panic(http.ErrAbortHandler)
	}
}

// trailerKey is k with http.TrailerPrefix, without allocating for gRPC's.
func trailerKey(k string) string {
	switch k {
	case "Grpc-Status":
		return http.TrailerPrefix + "Grpc-Status"
	case "Grpc-Message":
		return http.TrailerPrefix + "Grpc-Message"
	case "Grpc-Status-Details-Bin":
		return http.TrailerPrefix + "Grpc-Status-Details-Bin"
	}
	return http.TrailerPrefix + k
}

func (p *Proxy) observe(t *tryResult, status int) {
	d := time.Since(t.start)
	p.o.Metrics.ObserveUpstream(p.name, status, d)
	if t.info != nil {
		t.info.UpstreamTime += d
	}
}

// flushEach reports whether every chunk should be flushed at once:
// streams of unknown length and server-sent events must not wait in buffers.
func flushEach(res *http.Response) bool {
	if res.ContentLength == -1 {
		return true
	}
	return isEventStream(res.Header.Get("Content-Type"))
}

// isEventStream reports whether a Content-Type is text/event-stream, with
// or without parameters, without parsing (and allocating) the rest.
func isEventStream(ct string) bool {
	const es = "text/event-stream"
	if len(ct) < len(es) || !strings.EqualFold(ct[:len(es)], es) {
		return false
	}
	rest := strings.TrimLeft(ct[len(es):], " \t")
	return rest == "" || rest[0] == ';'
}

var errUpstreamRead = errors.New("upstream body read failed")

// copyBody streams src to w, flushing each chunk when flush is set.
func copyBody(w http.ResponseWriter, src io.Reader, flush bool) error {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	rc := http.NewResponseController(w)
	for {
		n, rerr := src.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return werr
			}
			// With the end of the body in hand, the response is about to
			// be completed: no flush (it would cost a write of its own).
			if flush && rerr == nil {
				if err := rc.Flush(); err != nil {
					return err
				}
			}
		}
		if rerr == io.EOF {
			return nil
		}
		if rerr != nil {
			return errUpstreamRead
		}
	}
}
