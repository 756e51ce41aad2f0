// Package transcode serves the methods of gRPC upstreams as REST/JSON, from
// descriptors fetched at run time (server reflection or a protoset), with
// the google.api.http rules of their annotations, of the config, and an
// automatic POST /package.Service/Method. On the same route it proxies
// native gRPC and translates gRPC-Web.
//
// A request goes: Handler.ServeHTTP picks the kind (gRPC, gRPC-Web,
// REST); for REST the current table's router finds the binding (a method
// plan resolved when the descriptors arrived), the request message is
// filled from the body, path and query, framed, and sent through the
// route's proxy.Proxy (balancing, health, retries, timeouts); the answer's
// frames and trailers become JSON, raw HttpBody bytes, or a stream.
package transcode

import (
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/gorilla/websocket"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/bouncer-proxy/bouncer/configs"
	"github.com/bouncer-proxy/bouncer/l7"
	"github.com/bouncer-proxy/bouncer/l7/proxy"
	"github.com/bouncer-proxy/bouncer/transcode/descriptors"
	"github.com/bouncer-proxy/bouncer/transcode/grpcweb"
)

// Source gives the current descriptors of an upstream, and a way to ask
// for fresh ones (rate-limited by the source).
type Source interface {
	Current() *descriptors.Set // nil until the first fetch succeeded
	RequestRefresh()           // asynchronous; called when a method is unknown upstream
}

// Options builds a Handler.
type Options struct {
	Config *configs.TranscodeAction
	Proxy  *proxy.Proxy // the route's proxy to the gRPC upstream
	Source Source
	Logger *slog.Logger
}

// Handler is the terminal of a transcode route. Safe for concurrent use.
type Handler struct {
	cfg     *configs.TranscodeAction
	proxy   *proxy.Proxy
	web     http.Handler
	src     Source
	log     *slog.Logger
	marshal protojson.MarshalOptions

	tbl atomic.Pointer[table]
	mu  sync.Mutex // serialises table builds
}

var _ http.Handler = (*Handler)(nil)

// New returns a Handler; its first table is built when descriptors are
// available (see Table).
func New(o Options) *Handler {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	h := &Handler{cfg: o.Config, proxy: o.Proxy, src: o.Source, log: o.Logger,
		marshal: protojson.MarshalOptions{EmitUnpopulated: o.Config.JSON.EmitDefaults,
			UseProtoNames: o.Config.JSON.UseProtoNames, UseEnumNumbers: o.Config.JSON.EnumsAsInts}}
	h.web = grpcweb.Handler(o.Proxy)
	return h
}

// Warm builds the table for the source's current descriptors now, so the
// first request after a change does not pay for it, and returns the
// problems found in bindings (those bindings are not served).
func (h *Handler) Warm() []error {
	_, errs := h.table()
	return errs
}

// Ready reports whether the method table of the current descriptors is
// built, so that no request will wait for it (nothing to build before the
// first descriptors: false).
func (h *Handler) Ready() bool {
	set := h.src.Current()
	t := h.tbl.Load()
	return set != nil && t != nil && t.set == set
}

// table returns the table for the current descriptors, building it when
// they changed. nil when there are none yet.
func (h *Handler) table() (*table, []error) {
	set := h.src.Current()
	if set == nil {
		return nil, nil
	}
	if t := h.tbl.Load(); t != nil && t.set == set {
		return t, nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if t := h.tbl.Load(); t != nil && t.set == set {
		return t, nil
	}
	t, errs := buildTable(set, planOptions{cfg: h.cfg, retries: h.proxy.RetriesMethod})
	for _, err := range errs {
		h.log.Warn("transcode: binding not served", "upstream", h.cfg.Upstream, "digest", shortDigest(set.Digest), "err", err)
	}
	h.tbl.Store(t)
	return t, errs
}

func shortDigest(d string) string {
	if len(d) > 12 {
		return d[:12]
	}
	return d
}

// ServeHTTP serves native gRPC, gRPC-Web and REST on one route.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	t, _ := h.table()
	if native, web := isGRPC(r), grpcweb.IsGRPCWeb(r); native || web {
		// Metrics per method, for methods the descriptors know (a
		// client's path alone must not create label values).
		if info := l7.InfoFrom(r.Context()); info != nil && t != nil && t.methods[r.URL.Path] {
			info.Route += " " + r.URL.Path
		}
		if native {
			h.proxy.ServeHTTP(w, r)
		} else {
			h.web.ServeHTTP(w, r)
		}
		return
	}
	if h.serveDocs(w, r, t) {
		return
	}
	if t == nil {
		writeError(w, r, http.StatusServiceUnavailable, "the descriptors of upstream "+h.cfg.Upstream+" are not available yet")
		return
	}
	m, allowed, found, err := t.router.Lookup(r.Method, r.URL.EscapedPath())
	if !found && err == nil && r.Method == http.MethodGet && websocket.IsWebSocketUpgrade(r) {
		// Browsers open WebSockets with GET; a streaming method bound to
		// another method is reached that way too.
		for _, alt := range allowed {
			if am, _, ok, _ := t.router.Lookup(alt, r.URL.EscapedPath()); ok && am.Value.method.IsStreamingClient() {
				m, found = am, true
				break
			}
		}
	}
	switch {
	case err != nil:
		writeError(w, r, http.StatusBadRequest, "bad path: "+limitText(err.Error(), 200))
		return
	case !found && len(allowed) > 0:
		w.Header().Set("Allow", strings.Join(allowed, ", "))
		writeError(w, r, http.StatusMethodNotAllowed, "method "+r.Method+" is not allowed here; allowed: "+strings.Join(allowed, ", "))
		return
	case !found:
		writeError(w, r, http.StatusNotFound, "no method is bound to "+r.Method+" "+limitText(r.URL.Path, 200))
		return
	}
	if info := l7.InfoFrom(r.Context()); info != nil {
		info.Route += " " + m.Value.grpcPath
	}
	h.serveBinding(w, r, t, m.Value, m.Vars)
}

// isGRPC reports a native gRPC request: application/grpc or
// application/grpc+codec, not gRPC-Web.
func isGRPC(r *http.Request) bool {
	ct := r.Header.Get("Content-Type")
	if !strings.HasPrefix(ct, "application/grpc") {
		return false
	}
	rest := ct[len("application/grpc"):]
	return rest == "" || rest[0] == '+' || rest[0] == ';'
}

// Bindings lists the served bindings of the current table as
// "METHOD /template -> package.Service/Method (source)", for `bouncer
// routes` and the admin API.
func (h *Handler) Bindings() []string {
	t, _ := h.table()
	if t == nil {
		return nil
	}
	out := make([]string, 0, len(t.bindings))
	for _, b := range t.bindings {
		out = append(out, b.httpMethod+" "+b.tmpl.String()+" -> "+strings.TrimPrefix(b.grpcPath, "/")+" ("+b.source+")")
	}
	slices.Sort(out)
	return out
}
