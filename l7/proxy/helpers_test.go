package proxy_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"

	"github.com/bouncer-proxy/bouncer/configs"
	"github.com/bouncer-proxy/bouncer/l4/upstream"
	"github.com/bouncer-proxy/bouncer/l7"
	"github.com/bouncer-proxy/bouncer/l7/proxy"
	"github.com/bouncer-proxy/bouncer/l7/route"
)

// gateway is one running Bouncer HTTP data plane, built from a YAML config
// the way cmd/bouncer does: clusters, transports, proxies, route tables,
// snapshot, then one l7.Server per listener on a loopback port.
type gateway struct {
	URL      string // scheme://127.0.0.1:port of the first listener
	Addr     string // 127.0.0.1:port of the first listener
	clusters map[string]*upstream.Cluster
	Log      *lockedBuffer // the JSON access log (when the config enables it)
}

// startGateway parses cfgText (listener addresses are replaced by fresh
// loopback ports), builds and serves it, and stops it all at test end.
func startGateway(t testing.TB, cfgText string) *gateway {
	t.Helper()
	return startGatewayWith(t, cfgText, nil)
}

// startGatewayWith is startGateway with each upstream transport passed
// through wrap (nil: used as built).
func startGatewayWith(t testing.TB, cfgText string, wrap func(http.RoundTripper) http.RoundTripper) *gateway {
	t.Helper()
	cfg, err := configs.Parse([]byte(cfgText), "test.yaml")
	if err != nil {
		t.Fatalf("config: %v\n%s", err, cfgText)
	}
	reg := upstream.NewRegistry(upstream.Options{})
	tr := proxy.NewTransports()
	metrics := l7.NewMetrics()
	discard := slog.New(slog.DiscardHandler)
	g := &gateway{clusters: map[string]*upstream.Cluster{}}
	for name, uc := range cfg.Upstreams {
		c, err := reg.Build(name, uc)
		if err != nil {
			t.Fatalf("upstream %s: %v", name, err)
		}
		g.clusters[name] = c
	}
	snap := &l7.Snapshot{
		Tables:          buildTables(t, cfg, g.clusters, tr, metrics, wrap),
		Trusted:         trustedOf(t, cfg),
		RequestIDHeader: cfg.Server.RequestIDHeader,
		MaxBodyBytes:    int64(cfg.Server.MaxBodyBytes),
		AccessLog:       cfg.Log.AccessLog,
	}
	g.Log = &lockedBuffer{}
	gw := l7.NewGateway(metrics, slog.New(slog.NewJSONHandler(g.Log, nil)))
	gw.Swap(snap)
	reg.Activate(g.clusters)
	var servers []*l7.Server
	for _, lc := range cfg.Listeners {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		srv, err := l7.NewServer(ln, lc, gw.Handler(lc.Name), l7.ServerOptions{Metrics: metrics, Logger: discard})
		if err != nil {
			t.Fatalf("server %s: %v", lc.Name, err)
		}
		done := make(chan struct{})
		go func() { defer close(done); _ = srv.Serve() }()
		servers = append(servers, srv)
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			_ = srv.Shutdown(ctx)
			<-done
		})
	}
	t.Cleanup(func() { reg.Close(); tr.CloseIdle() })
	g.Addr = servers[0].Addr().String()
	g.URL = "http://" + g.Addr
	if cfg.Listeners[0].TLS != nil {
		g.URL = "https://" + g.Addr
	}
	return g
}

// buildTables makes each route's terminal as cmd/bouncer does and compiles
// one table per listener.
func buildTables(t testing.TB, cfg *configs.Config, clusters map[string]*upstream.Cluster, tr *proxy.Transports, m *l7.Metrics, wrap func(http.RoundTripper) http.RoundTripper) map[string]*route.Table[*l7.Route] {
	t.Helper()
	trusted := trustedOf(t, cfg)
	routes := make([]*l7.Route, len(cfg.Routes))
	for i, rc := range cfg.Routes {
		var terminal http.Handler
		if rc.Proxy != nil {
			c := clusters[rc.Proxy.Upstream]
			rtr, scheme, err := tr.Get(rc.Proxy.Upstream, c.Config(), c)
			if err != nil {
				t.Fatalf("transport %s: %v", rc.Proxy.Upstream, err)
			}
			if wrap != nil {
				rtr = wrap(rtr)
			}
			terminal = proxy.New(proxy.Options{Cluster: c, Transport: rtr, Scheme: scheme, Action: *rc.Proxy, Trusted: trusted, Metrics: m})
		}
		rt, err := l7.NewRoute(rc, terminal)
		if err != nil {
			t.Fatal(err)
		}
		routes[i] = rt
	}
	tables := map[string]*route.Table[*l7.Route]{}
	for _, l := range cfg.Listeners {
		var entries []route.Entry[*l7.Route]
		for i, rc := range cfg.Routes {
			if len(rc.Listeners) == 0 || slices.Contains(rc.Listeners, l.Name) {
				entries = append(entries, route.Entry[*l7.Route]{Name: rc.Name, Match: rc.Match, Value: routes[i], Index: i})
			}
		}
		tab, err := route.Compile(entries)
		if err != nil {
			t.Fatalf("routes: %v", err)
		}
		tables[l.Name] = tab
	}
	return tables
}

func trustedOf(t testing.TB, cfg *configs.Config) *l7.Trusted {
	t.Helper()
	tr, err := l7.TrustedFrom(cfg.Server.TrustedProxies)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// simpleConfig is one plain listener and one upstream "app" over addrs,
// with extra YAML lines appended to the upstream and to the proxy action.
func simpleConfig(addrs []string, upstreamExtra, proxyExtra string) string {
	return fmt.Sprintf(`admin: {address: "off"}
listeners:
  - name: web
    address: 127.0.0.1:0
upstreams:
  app:
    endpoints: [%s]
%s
routes:
  - name: all
    match: {prefix: /}
    proxy:
      upstream: app
%s
`, strings.Join(addrs, ", "), indent(upstreamExtra, 4), indent(proxyExtra, 6))
}

// indent prefixes every non-empty line of s with n spaces.
func indent(s string, n int) string {
	pad := strings.Repeat(" ", n)
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = pad + l
		}
	}
	return strings.Join(lines, "\n")
}

// backend is an httptest server that counts requests and new connections.
type backend struct {
	*httptest.Server
	Addr  string // 127.0.0.1:port
	Hits  atomic.Int64
	Conns atomic.Int64
}

// newBackend starts an HTTP/1.1 backend running h; it is closed at test end.
func newBackend(t testing.TB, h http.HandlerFunc) *backend {
	t.Helper()
	b := newUnstarted(h)
	b.Start()
	b.Addr = b.Listener.Addr().String()
	t.Cleanup(b.Close)
	return b
}

// newUnstarted returns a counting backend the caller starts.
func newUnstarted(h http.Handler) *backend {
	b := &backend{}
	b.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.Hits.Add(1)
		h.ServeHTTP(w, r)
	}))
	b.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			b.Conns.Add(1)
		}
	}
	return b
}

// named answers 200 with its name in the body and the X-Backend header.
func named(name string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("X-Backend", name)
		_, _ = io.WriteString(w, name)
	}
}

// status answers with code and its name in X-Backend.
func status(name string, code int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("X-Backend", name)
		w.WriteHeader(code)
		_, _ = io.WriteString(w, name+" internal detail: db=10.9.8.7 stack trace")
	}
}

// closedAddr returns a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

// newClient is an HTTP/1.1 client with its own connection pool.
func newClient(t testing.TB) *http.Client {
	t.Helper()
	tr := &http.Transport{ForceAttemptHTTP2: false, TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{}}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{
		Transport:     tr,
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// newH2CClient speaks HTTP/2 with prior knowledge over plain TCP.
func newH2CClient(t *testing.T) *http.Client {
	t.Helper()
	tr := &http2.Transport{
		AllowHTTP: true,
		DialTLSContext: func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		},
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// result is a response read to its end.
type result struct {
	Status  int
	Header  http.Header
	Trailer http.Header
	Body    string
}

// do sends req and reads the whole response.
func do(t *testing.T, c *http.Client, req *http.Request) result {
	t.Helper()
	res, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", req.Method, req.URL, err)
	}
	return result{Status: res.StatusCode, Header: res.Header, Trailer: res.Trailer, Body: string(body)}
}

// get sends a GET of url.
func get(t *testing.T, c *http.Client, url string) result {
	t.Helper()
	return do(t, c, newRequest(t, http.MethodGet, url, nil))
}

func newRequest(t *testing.T, method, url string, body io.Reader) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// errorBody is the gateway's JSON error, decoded strictly.
type errorBody struct {
	Error struct {
		Status    int    `json:"status"`
		Code      string `json:"code"`
		Message   string `json:"message"`
		RequestID string `json:"request_id"`
	} `json:"error"`
}

// checkError asserts that r is a gateway error with status and code, in
// the documented JSON shape, carrying the response's request id and
// nothing about upstream internals.
func checkError(t *testing.T, r result, status int, code string) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status = %d, want %d (body %q)", r.Status, status, r.Body)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	dec := json.NewDecoder(strings.NewReader(r.Body))
	dec.DisallowUnknownFields()
	var e errorBody
	if err := dec.Decode(&e); err != nil {
		t.Fatalf("error body %q: %v", r.Body, err)
	}
	if e.Error.Status != status || e.Error.Code != code || e.Error.Message == "" {
		t.Errorf("error = %+v, want status %d code %s and a message", e.Error, status, code)
	}
	if rid := r.Header.Get("X-Request-Id"); e.Error.RequestID == "" || e.Error.RequestID != rid {
		t.Errorf("request_id = %q, X-Request-Id = %q: want equal and set", e.Error.RequestID, rid)
	}
	for _, leak := range []string{"127.0.0.1", "refused", "dial", "internal detail", "context", "EOF"} {
		if strings.Contains(r.Body, leak) {
			t.Errorf("error body leaks %q: %s", leak, r.Body)
		}
	}
}

// waitFor polls cond until it holds or within passes.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", within, what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// recv waits for a value on ch, failing the test after within.
func recv[T any](t *testing.T, ch <-chan T, within time.Duration, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(within):
		t.Fatalf("timed out after %v waiting for %s", within, what)
	}
	var zero T
	return zero
}
