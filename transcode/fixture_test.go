package transcode_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/bouncer-proxy/bouncer/configs"
	"github.com/bouncer-proxy/bouncer/l4/upstream"
	"github.com/bouncer-proxy/bouncer/l7"
	"github.com/bouncer-proxy/bouncer/l7/proxy"
	"github.com/bouncer-proxy/bouncer/transcode"
	"github.com/bouncer-proxy/bouncer/transcode/descriptors"
	"github.com/bouncer-proxy/bouncer/transcode/grpcsvc"
	"github.com/bouncer-proxy/bouncer/transcode/sample"
)

// fixture is a transcode route in front of the real sample library
// service (a grpc-go server with reflection on loopback), with descriptors
// fetched through reflection, served by an HTTP server with h2c.
type fixture struct {
	URL      string
	grpcAddr string
	h        *transcode.Handler
	svc      *grpcsvc.Server
	src      *staticSource
	cluster  *upstream.Cluster // the route's upstream, for its load and health
}

// staticSource serves one fetched Set and counts refresh requests.
type staticSource struct {
	set       *descriptors.Set
	refreshes chan struct{}
}

func (s *staticSource) Current() *descriptors.Set { return s.set }
func (s *staticSource) RequestRefresh() {
	select {
	case s.refreshes <- struct{}{}:
	default:
	}
}

// startFixture starts the sample service and a transcode route to it;
// routeExtra is YAML added to the route's transcode block.
func startFixture(t *testing.T, routeExtra string) *fixture {
	t.Helper()
	return startFixtureWith(t, routeExtra, nil)
}

// startService serves the sample library with some methods replaced.
func startService(t testing.TB, override map[string]grpcsvc.Handler) (string, *grpcsvc.Server) {
	t.Helper()
	files, err := sample.Files()
	if err != nil {
		t.Fatal(err)
	}
	handlers := sample.Handlers()
	for k, h := range override {
		handlers[k] = h
	}
	srv, err := grpcsvc.New(files, handlers, grpcsvc.Options{})
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(l) }()
	t.Cleanup(func() { srv.Stop(); <-done })
	return l.Addr().String(), srv
}

// startFixtureWith is startFixture with some of the service's methods
// replaced (keys "/bouncer.library.v1.Library/Method").
func startFixtureWith(t *testing.T, routeExtra string, override map[string]grpcsvc.Handler) *fixture {
	t.Helper()
	return startFixtureSource(t, routeExtra, override, nil)
}

// startFixtureSource is startFixtureWith with the descriptor source made
// by mk (nil: one reflection fetch, served as is).
func startFixtureSource(t *testing.T, routeExtra string, override map[string]grpcsvc.Handler, mk func(addr string) transcode.Source) *fixture {
	t.Helper()
	f, errs := buildFixture(t, routeExtra, override, mk)
	if len(errs) > 0 {
		t.Fatalf("bindings not served: %v", errs)
	}
	return f
}

// warmErrors builds a fixture and returns the binding problems reported.
func warmErrors(t *testing.T, routeExtra string) []error {
	t.Helper()
	_, errs := buildFixture(t, routeExtra, nil, nil)
	return errs
}

// routeUpstream, when set, is where the route's calls go instead of the
// sample service (whose descriptors are still used); tests that set it
// must not run in parallel.
var routeUpstream string

// upstreamExtra, when set, is YAML flow-mapping entries added to the
// upstream's config (", circuit_breaker: {...}"); tests that set it must
// not run in parallel.
var upstreamExtra string

func buildFixture(t testing.TB, routeExtra string, override map[string]grpcsvc.Handler, mk func(addr string) transcode.Source) (*fixture, []error) {
	t.Helper()
	addr, svc := startService(t, override)
	upstreamAddr := addr
	if routeUpstream != "" {
		upstreamAddr = routeUpstream
	}
	text := `admin: {address: "off"}
listeners: [{name: web, address: "127.0.0.1:0"}]
upstreams:
  library: {endpoints: ["` + upstreamAddr + `"], protocol: h2c` + upstreamExtra + `}
routes:
  - match: {prefix: /}
    transcode:
      upstream: library
` + indent(routeExtra, 6) + "\n"
	cfg, err := configs.Parse([]byte(text), "test.yaml")
	if err != nil {
		t.Fatalf("config: %v\n%s", err, text)
	}
	reg := upstream.NewRegistry(upstream.Options{Logger: slog.New(slog.DiscardHandler)})
	c, err := reg.Build("library", cfg.Upstreams["library"])
	if err != nil {
		t.Fatal(err)
	}
	reg.Activate(map[string]*upstream.Cluster{"library": c})
	tr := proxy.NewTransports()
	t.Cleanup(func() { reg.Close(); tr.CloseIdle() })
	rtr, scheme, err := tr.Get("library", c.Config(), c)
	if err != nil {
		t.Fatal(err)
	}
	a := cfg.Routes[0].Transcode
	trusted, _ := l7.TrustedFrom(nil)
	px := proxy.New(proxy.Options{Cluster: c, Transport: rtr, Scheme: scheme, Trusted: trusted,
		Action: configs.ProxyAction{Upstream: "library", Timeout: a.Timeout, PerTryTimeout: a.PerTryTimeout, Retry: a.Retry, Forwarded: a.Forwarded}})
	var src transcode.Source
	var static *staticSource
	if mk != nil {
		src = mk(addr)
	} else {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		set, err := descriptors.Fetch(ctx, addr, descriptors.Options{})
		if err != nil {
			t.Fatalf("reflection: %v", err)
		}
		static = &staticSource{set: set, refreshes: make(chan struct{}, 1)}
		src = static
	}
	h := transcode.New(transcode.Options{Config: a, Proxy: px, Source: src, Logger: slog.New(slog.DiscardHandler)})
	errs := h.Warm()
	srv := httptest.NewUnstartedServer(h)
	srv.Config.Protocols = new(http.Protocols)
	srv.Config.Protocols.SetHTTP1(true)
	srv.Config.Protocols.SetUnencryptedHTTP2(true)
	srv.Start()
	t.Cleanup(srv.Close)
	return &fixture{URL: srv.URL, grpcAddr: addr, h: h, svc: svc, src: static, cluster: c}, errs
}

func indent(s string, n int) string {
	if strings.TrimSpace(s) == "" {
		return ""
	}
	pad := strings.Repeat(" ", n)
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i := range lines {
		lines[i] = pad + lines[i]
	}
	return strings.Join(lines, "\n")
}

// reply is a response read whole.
type reply struct {
	Status int
	Header http.Header
	Body   string
}

func (f *fixture) do(t *testing.T, method, path, body string, hdr ...string) reply {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, f.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return reply{Status: res.StatusCode, Header: res.Header, Body: string(b)}
}

// jsonOf decodes a JSON body into a generic value.
func jsonOf(t *testing.T, s string) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("not a JSON object: %v\n%s", err, s)
	}
	return v
}

// rpcStatus is a google.rpc.Status JSON body.
type rpcStatus struct {
	Code    int              `json:"code"`
	Message string           `json:"message"`
	Details []map[string]any `json:"details"`
}

func statusOf(t *testing.T, r reply) rpcStatus {
	t.Helper()
	var st rpcStatus
	if err := json.Unmarshal([]byte(r.Body), &st); err != nil {
		t.Fatalf("error body is not a google.rpc.Status: %v\n%s", err, r.Body)
	}
	return st
}

func (st rpcStatus) detail(typ string) map[string]any {
	for _, d := range st.Details {
		if d["@type"] == "type.googleapis.com/"+typ {
			return d
		}
	}
	return nil
}
