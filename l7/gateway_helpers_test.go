package l7_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bouncer-proxy/bouncer/configs"
	"github.com/bouncer-proxy/bouncer/l7"
	"github.com/bouncer-proxy/bouncer/l7/route"
)

// testGateway is a running gateway built from YAML as cmd/bouncer builds
// it, except that proxy routes end in an echo terminal (l7 cannot import
// its proxy).
type testGateway struct {
	URL     string
	Addr    string
	GW      *l7.Gateway
	Metrics *l7.Metrics
	cfg     *configs.Config
}

// gatewayOptions tune startTestGateway.
type gatewayOptions struct {
	accessLog io.Writer        // JSON access log lines; nil: discarded
	server    l7.ServerOptions // certificate sources (metrics and logger are set here)
}

// startTestGateway parses cfgText, compiles its routes and serves the
// first listener on a fresh loopback port until the test ends.
func startTestGateway(t *testing.T, cfgText string, o gatewayOptions) *testGateway {
	t.Helper()
	cfg, err := configs.Parse([]byte(cfgText), "test.yaml")
	if err != nil {
		t.Fatalf("config: %v\n%s", err, cfgText)
	}
	m := l7.NewMetrics()
	logOut := o.accessLog
	if logOut == nil {
		logOut = io.Discard
	}
	gw := l7.NewGateway(m, slog.New(slog.NewJSONHandler(logOut, nil)))
	gw.Swap(compileSnapshot(t, cfg))
	lc := cfg.Listeners[0]
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	so := o.server
	so.Metrics, so.Logger = m, slog.New(slog.DiscardHandler)
	srv, err := l7.NewServer(ln, lc, gw.Handler(lc.Name), so)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve() }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-done
	})
	g := &testGateway{Addr: srv.Addr().String(), GW: gw, Metrics: m, cfg: cfg}
	g.URL = "http://" + g.Addr
	if lc.TLS != nil {
		g.URL = "https://" + g.Addr
	}
	return g
}

// compileSnapshot builds the snapshot of cfg with echo terminals for
// proxy routes.
func compileSnapshot(t *testing.T, cfg *configs.Config) *l7.Snapshot {
	t.Helper()
	trusted, err := l7.TrustedFrom(cfg.Server.TrustedProxies)
	if err != nil {
		t.Fatal(err)
	}
	routes := make([]*l7.Route, len(cfg.Routes))
	for i, rc := range cfg.Routes {
		var terminal http.Handler
		if rc.Proxy != nil {
			terminal = echoTerminal(trusted)
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
	return &l7.Snapshot{
		Tables: tables, Trusted: trusted, RequestIDHeader: cfg.Server.RequestIDHeader,
		MaxBodyBytes: int64(cfg.Server.MaxBodyBytes), AccessLog: cfg.Log.AccessLog, EscapedSlashes: cfg.Server.EscapedSlashes,
		Listeners: l7.ListenerPolicies(cfg),
	}
}

// echoed is what the echo terminal saw.
type echoed struct {
	Route     string
	Path      string // escaped
	Query     string
	Host      string
	Header    http.Header // as the terminal received it
	Forwarded http.Header // what SetForwarded writes for an upstream
	ClientIP  string
	RequestID string
	TLS       bool
	Body      string
}

// echoTerminal stands in for the proxy: it reports the request as the
// gateway hands it over.
func echoTerminal(trusted *l7.Trusted) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			l7.WriteError(w, r, l7.Wrap(err, http.StatusRequestEntityTooLarge, l7.CodeTooLarge, "too large"))
			return
		}
		fwd := r.Header.Clone()
		trusted.SetForwarded(fwd, r, l7.PeerAddr(r), l7.ForwardedAll)
		info := l7.InfoFrom(r.Context())
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(echoed{
			Route: info.Route, Path: r.URL.EscapedPath(), Query: r.URL.RawQuery, Host: r.Host,
			Header: r.Header, Forwarded: fwd, ClientIP: info.Client.String(),
			RequestID: l7.RequestIDFrom(r.Context()), TLS: r.TLS != nil, Body: string(body),
		})
	})
}

// gwResult is a response read to its end.
type gwResult struct {
	Status int
	Header http.Header
	Body   string
}

// client is an HTTP/1.1 client that does not follow redirects.
func client(t *testing.T) *http.Client {
	t.Helper()
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{
		Transport:     tr,
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// send makes a request with optional header pairs and reads the answer.
func send(t *testing.T, c *http.Client, method, url string, body io.Reader, header ...string) gwResult {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		if strings.EqualFold(header[i], "Host") {
			req.Host = header[i+1]
			continue
		}
		req.Header.Add(header[i], header[i+1])
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return gwResult{Status: res.StatusCode, Header: res.Header, Body: string(b)}
}

// decodeEchoed parses the echo terminal's answer.
func decodeEchoed(t *testing.T, r gwResult) echoed {
	t.Helper()
	if r.Status != 200 {
		t.Fatalf("status %d: %s", r.Status, r.Body)
	}
	var e echoed
	if err := json.Unmarshal([]byte(r.Body), &e); err != nil {
		t.Fatalf("echo %q: %v", r.Body, err)
	}
	return e
}

// gatewayConfig is one listener with the given routes (YAML list items)
// and server settings; upstream "app" exists for proxy routes.
func gatewayConfig(server, routes string) string {
	if server == "" {
		server = "request_id_header: X-Request-Id"
	}
	return "admin: {address: \"off\"}\nlog: {access_log: true}\nserver:\n  " +
		strings.ReplaceAll(strings.TrimSpace(server), "\n", "\n  ") +
		"\nlisteners:\n  - name: web\n    address: 127.0.0.1:0\nupstreams:\n  app: {endpoints: [127.0.0.1:9]}\nroutes:\n" +
		routes
}
