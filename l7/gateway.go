package l7

import (
	"crypto/tls"
	"log/slog"
	"net/http"
	"strings"

	"sync"
	"sync/atomic"
	"time"

	"github.com/bouncer-proxy/bouncer/l7/route"
	"github.com/bouncer-proxy/bouncer/tls/mtls"
	"golang.org/x/net/http/httpguts"
)

// Gateway is the HTTP handler of every listener: it loads the current
// Snapshot once per request, normalizes the path, matches a route and runs
// it, then writes the access log and metrics.
type Gateway struct {
	snap      atomic.Pointer[Snapshot]
	challenge atomic.Pointer[func(http.ResponseWriter, *http.Request) bool]
	ids       *requestIDs
	metrics   *Metrics
	log       *slog.Logger // access log
}

// NewGateway makes a Gateway; Swap must be called before it serves.
func NewGateway(metrics *Metrics, accessLog *slog.Logger) *Gateway {
	return &Gateway{ids: newRequestIDs(), metrics: metrics, log: accessLog}
}

// Swap installs a new generation and returns the previous one.
func (g *Gateway) Swap(s *Snapshot) *Snapshot { return g.snap.Swap(s) }

// SetChallenge installs the ACME HTTP-01 responder: every request under
// /.well-known/acme-challenge/ on any listener is offered to it first,
// before redirects, routing and policies; it returns false for tokens it
// does not know (they are routed as usual).
func (g *Gateway) SetChallenge(f func(http.ResponseWriter, *http.Request) bool) {
	g.challenge.Store(&f)
}

// Snapshot returns the generation being served.
func (g *Gateway) Snapshot() *Snapshot { return g.snap.Load() }

// Handler returns the handler for the listener named name.
func (g *Gateway) Handler(name string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { g.serve(name, w, r) })
}

// exchange is the per-request state, pooled to keep the hot path lean.
type exchange struct {
	rec  recorder
	info Info
}

var exchangePool = sync.Pool{New: func() any { return new(exchange) }}

func (g *Gateway) serve(listener string, w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	s := g.snap.Load()
	x := exchangePool.Get().(*exchange)
	x.rec = recorder{ResponseWriter: w}
	x.info = Info{}
	defer exchangePool.Put(x)
	info := &x.info
	r = r.WithContext(WithInfo(r.Context(), info))
	if r.TLS == nil {
		if st, ok := r.Context().Value(tlsStateKey{}).(*tls.ConnectionState); ok {
			r.TLS = st
		}
	}

	key := s.requestIDKey()
	var ids []string
	if v := r.Header[key]; len(v) == 1 && validRequestID(v[0]) {
		ids = v
	} else {
		ids = []string{g.ids.next()}
		r.Header[key] = ids
	}
	info.RequestID = ids[0]
	w.Header()[key] = ids // shared: both maps hold a one-element slice, replaced, never appended in place
	info.Client = s.Trusted.ClientAddr(r, PeerAddr(r))

	g.route(s, listener, &x.rec, r)
	if s.AccessLog || g.metrics != nil {
		g.record(s, listener, r, &x.rec, info, time.Since(start))
	}
}

// route matches and runs the route for r.
func (g *Gateway) route(s *Snapshot, listener string, w *recorder, r *http.Request) {
	info := InfoFrom(r.Context())
	if !httpguts.ValidHostHeader(r.Host) {
		// Neither the HTTP/1.1 parser nor h2 and h3 check the characters
		// of Host (:authority); an upstream would take it for a name.
		WriteError(w, r, Errorf(http.StatusBadRequest, CodeBadRequest, "bad Host header"))
		return
	}
	raw := r.URL.EscapedPath()
	if s.EscapedSlashes != "" && s.EscapedSlashes != "keep" && hasEscapedSlash(raw) {
		if s.EscapedSlashes == "reject" {
			WriteError(w, r, Errorf(http.StatusBadRequest, CodeBadRequest, "an escaped slash (%%2F) in the path is not accepted here"))
			return
		}
		raw = unescapeSlashes(raw)
	}
	path, err := route.NormalizePath(raw)
	if err != nil {
		WriteError(w, r, Wrap(err, http.StatusBadRequest, CodeBadRequest, "bad request path"))
		return
	}
	if path != r.URL.EscapedPath() {
		setEscapedPath(r.URL, path)
	}
	if ch := g.challenge.Load(); ch != nil && strings.HasPrefix(path, acmeChallengePrefix) && (*ch)(w, r) {
		return
	}
	lp := s.Listeners[listener]
	if lp == nil {
		lp = &noPolicy
	}
	if lp.RedirectStatus != 0 {
		lp.redirectHTTPS(w, r)
		return
	}
	w.hsts = lp.HSTS
	if r.TLS != nil && r.TLS.ServerName != "" && !sameHost(r.Host, r.TLS.ServerName) && lp.SNIHostCheck {
		WriteError(w, r, Errorf(http.StatusMisdirectedRequest, CodeMisdirected,
			"this connection is for %s, not %s: open a new connection for it", r.TLS.ServerName, hostOnly(r.Host)))
		return
	}
	// Clients never speak for a certificate: the listener's header and
	// the standard one (an upstream may read it) go, whatever is forwarded.
	delete(r.Header, mtls.HeaderXFCC)
	if lp.ClientCertHeader != mtls.HeaderXFCC {
		delete(r.Header, lp.ClientCertHeader)
	}
	if lp.ClientAuth {
		lp.clientIdentity(r, info)
	}
	table := s.Tables[listener]
	if table == nil {
		WriteError(w, r, Errorf(http.StatusNotFound, CodeNotFound, "no route for %s %s", r.Method, path))
		return
	}
	rt, ok := table.Match(r.Host, path, r.Method, r.Header, r.URL.RawQuery)
	if !ok {
		WriteError(w, r, Errorf(http.StatusNotFound, CodeNotFound, "no route for %s %s", r.Method, path))
		return
	}
	info.Route = rt.Name
	if rt.RequireClientCert && !mtls.Verified(r.TLS) {
		WriteError(w, r, Errorf(http.StatusForbidden, CodeForbidden, "this route needs a verified client certificate (mTLS)"))
		return
	}
	if s.MaxBodyBytes > 0 {
		if r.ContentLength > s.MaxBodyBytes {
			WriteError(w, r, Errorf(http.StatusRequestEntityTooLarge, CodeTooLarge, "request body is larger than %d bytes", s.MaxBodyBytes))
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, s.MaxBodyBytes)
	}
	w.respHdr = rt.RespHdr
	if rt.Policies != nil {
		rt.Policies.ServeHTTP(w, r)
		return
	}
	rt.serveInner(w, r)
}

func (g *Gateway) record(s *Snapshot, listener string, r *http.Request, rec *recorder, info *Info, d time.Duration) {
	status := rec.status
	if status == 0 && info.Status != 0 {
		status = info.Status
	}
	if status == 0 {
		status = 499 // the client went away before a response (nginx's convention)
		if r.Context().Err() == nil {
			status = http.StatusOK
		}
	}
	routeName := info.Route
	if routeName == "" {
		routeName = "-"
	}
	g.metrics.ObserveRequest(listener, routeName, r.Method, status, d)
	if !s.AccessLog || g.log == nil {
		return
	}
	attrs := []slog.Attr{
		slog.String("request_id", info.RequestID),
		slog.String("listener", listener),
		slog.String("client", info.Client.String()),
		slog.String("method", r.Method),
		slog.String("host", r.Host),
		slog.String("path", r.RequestURI),
		slog.String("proto", r.Proto),
		slog.Int("status", status),
		slog.Int64("bytes_in", max(r.ContentLength, 0)),
		slog.Int64("bytes_out", rec.bytes),
		slog.Float64("duration_ms", float64(d.Microseconds())/1000),
		slog.String("route", routeName),
	}
	if info.Upstream != "" {
		attrs = append(attrs, slog.String("upstream", info.Upstream), slog.String("endpoint", info.Endpoint), slog.Int("tries", info.Tries),
			slog.Float64("upstream_ms", float64(info.UpstreamTime.Microseconds())/1000))
	}
	if info.Err != nil {
		attrs = append(attrs, slog.String("error", info.Err.Error()))
	}
	if id := info.Identity; id != nil {
		attrs = append(attrs, slog.String("consumer", id.Consumer), slog.String("auth", id.Method))
	}
	if id := info.ClientCert; id != nil {
		attrs = append(attrs, slog.String("client_cert", id.Subject), slog.String("client_cert_sha256", id.FingerprintSHA256))
	}
	g.log.LogAttrs(r.Context(), slog.LevelInfo, "request", attrs...)
}

// recorder notes status and bytes for logs and metrics and applies the
// route's response header changes just before the head is written.
type recorder struct {
	http.ResponseWriter
	status  int
	bytes   int64
	respHdr *HeaderOps
	hsts    []string // Strict-Transport-Security value (nil: none)
}

// noPolicy is the policy of a listener the snapshot does not know.
var noPolicy = ListenerPolicy{ClientCertHeader: mtls.HeaderXFCC}

func (rw *recorder) WriteHeader(code int) {
	if rw.status == 0 || code < 200 && rw.status < 200 {
		if code >= 200 || code == http.StatusSwitchingProtocols {
			rw.status = code
			if rw.respHdr != nil {
				h := rw.ResponseWriter.Header()
				_, hadType := h["Content-Type"]
				rw.respHdr.Apply(h)
				if _, ok := h["Content-Type"]; hadType && !ok {
					h["Content-Type"] = nil // removed on purpose: do not let net/http guess one
				}
			}
			if rw.hsts != nil { // after the route's changes: the listener's policy wins
				rw.ResponseWriter.Header()["Strict-Transport-Security"] = rw.hsts
			}
		}
		rw.ResponseWriter.WriteHeader(code)
	}
}

func (rw *recorder) Write(b []byte) (int, error) {
	if rw.status == 0 {
		rw.WriteHeader(http.StatusOK)
	}
	n, err := rw.ResponseWriter.Write(b)
	rw.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach Flush, Hijack and deadlines.
func (rw *recorder) Unwrap() http.ResponseWriter { return rw.ResponseWriter }

// Flush forwards to the underlying writer, for code that type-asserts.
func (rw *recorder) Flush() { _ = http.NewResponseController(rw.ResponseWriter).Flush() }

// sameHost reports whether the Host header names the server of the TLS
// SNI, ignoring a port, case and a trailing dot.
func sameHost(host, sni string) bool {
	return strings.EqualFold(strings.TrimSuffix(hostOnly(host), "."), strings.TrimSuffix(sni, "."))
}

// hostOnly is host without its port, and an IPv6 literal without its
// brackets. It does not allocate.
func hostOnly(host string) string {
	if strings.HasPrefix(host, "[") {
		if end := strings.IndexByte(host, ']'); end > 0 {
			return host[1:end]
		}
		return host
	}
	if i := strings.LastIndexByte(host, ':'); i >= 0 && strings.IndexByte(host, ':') == i {
		return host[:i]
	}
	return host
}

// hasEscapedSlash reports whether an escaped path holds %2F (or %2f).
func hasEscapedSlash(p string) bool {
	for i := 0; i+2 < len(p); i++ {
		if p[i] == '%' && p[i+1] == '2' && (p[i+2] == 'F' || p[i+2] == 'f') {
			return true
		}
	}
	return false
}

// unescapeSlashes turns every %2F of an escaped path into a separator.
func unescapeSlashes(p string) string {
	return strings.NewReplacer("%2F", "/", "%2f", "/").Replace(p)
}
