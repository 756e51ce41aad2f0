package proxy_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"testing"

	"github.com/bouncer-proxy/bouncer/configs"
	"github.com/bouncer-proxy/bouncer/l4/upstream"
	"github.com/bouncer-proxy/bouncer/l7/proxy"
)

// newExchangeProxy builds the proxy of a one-route config, as
// cmd/bouncer does, for calling Exchange directly.
func newExchangeProxy(t *testing.T, addrs []string, retry string) *proxy.Proxy {
	t.Helper()
	return newExchangeProxyWith(t, addrs, "balance: round_robin", retry)
}

// newExchangeProxyWith is newExchangeProxy with extra YAML lines for the
// upstream and the proxy action.
func newExchangeProxyWith(t *testing.T, addrs []string, upstreamExtra, proxyExtra string) *proxy.Proxy {
	t.Helper()
	cfg, err := configs.Parse([]byte(simpleConfig(addrs, upstreamExtra, proxyExtra)), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	reg := upstream.NewRegistry(upstream.Options{})
	c, err := reg.Build("app", cfg.Upstreams["app"])
	if err != nil {
		t.Fatal(err)
	}
	reg.Activate(map[string]*upstream.Cluster{"app": c})
	tr := proxy.NewTransports()
	t.Cleanup(func() { reg.Close(); tr.CloseIdle() })
	rtr, scheme, err := tr.Get("app", c.Config(), c)
	if err != nil {
		t.Fatal(err)
	}
	return proxy.New(proxy.Options{Cluster: c, Transport: rtr, Scheme: scheme, Action: *cfg.Routes[0].Proxy, Trusted: trustedOf(t, cfg)})
}

// echoCall answers with the request's method, path and body.
func echoCall(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	_, _ = io.WriteString(w, r.Method+" "+r.URL.Path+" "+string(b))
}

func exchangeRequest(body []byte) *http.Request {
	req := &http.Request{Method: http.MethodPost, URL: &url.URL{Scheme: "http", Path: "/svc/Call"},
		Header: http.Header{}, Body: io.NopCloser(bytes.NewReader(body)), ContentLength: int64(len(body)),
		GetBody: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }}
	return req.WithContext(context.Background())
}

// Exchange sends a request made by the caller through the upstream's
// balancing and retries: a body with GetBody is sent again on the next
// endpoint after a connect failure, and the caller reads the response.
func TestExchangeRetriesReplayableBody(t *testing.T) {
	b := newBackend(t, echoCall)
	p := newExchangeProxy(t, []string{closedAddr(t), b.Addr}, "retry: {attempts: 2, retry_on: [connect-failure]}")
	for i := range 4 { // round robin: half the first tries hit the closed port
		x, gerr := p.Exchange(exchangeRequest([]byte("payload")), true)
		if gerr != nil {
			t.Fatalf("exchange %d: %v", i, gerr)
		}
		got, _ := io.ReadAll(x.Res.Body)
		x.Done(x.Res.StatusCode)
		if string(got) != "POST /svc/Call payload" {
			t.Fatalf("exchange %d: upstream saw %q", i, got)
		}
	}
}

// Without retryOK a connect failure is the caller's 502, and Exchange
// reports no response.
func TestExchangeNoRetry(t *testing.T) {
	p := newExchangeProxy(t, []string{closedAddr(t)}, "retry: {attempts: 2, retry_on: [connect-failure]}")
	x, gerr := p.Exchange(exchangeRequest([]byte("x")), false)
	if x != nil || gerr == nil || gerr.Status != http.StatusBadGateway {
		t.Fatalf("got %v, %v; want a 502 error", x, gerr)
	}
	if !p.RetriesMethod("GET") || p.RetriesMethod("POST") {
		t.Fatal("RetriesMethod does not follow the retry policy's default methods")
	}
}
