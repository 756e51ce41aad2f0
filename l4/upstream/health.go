package upstream

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bouncer-proxy/bouncer/configs"
	"github.com/bouncer-proxy/bouncer/tls/mtls"
	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"
)

// Health-check defaults for zero values.
const (
	defaultHealthInterval = 5 * time.Second
	defaultHealthTimeout  = 2 * time.Second
	defaultRise           = 2
	defaultFall           = 3
	healthBodyLimit       = 64 << 10 // drained from a check response, then dropped
)

// healthPolicy is a parsed configs.HealthCheck.
//
// A new endpoint (at start, after a reload adds it, or after DNS finds it)
// is healthy until its first check fails: one failure on a never-checked
// endpoint marks it down at once, later it takes fall failures in a row; it
// comes back after rise successes in a row. Traffic is not held back at
// start, and an endpoint that is dead from the beginning is found by the
// first check.
type healthPolicy struct {
	tcp               bool   // connect (and send/expect) instead of an HTTP GET
	send, expect      []byte // tcp only
	path, host        string
	interval, timeout time.Duration
	statuses          []statusRange
	rise, fall        int
}

// statusRange is an inclusive range of HTTP statuses.
type statusRange struct{ lo, hi int }

// newHealthPolicy parses hc; nil means no active checks.
func newHealthPolicy(hc *configs.HealthCheck) (*healthPolicy, error) {
	if hc == nil {
		return nil, nil
	}
	p := &healthPolicy{
		tcp: hc.Type == "tcp", send: []byte(hc.Send), expect: []byte(hc.Expect),
		path: hc.Path, host: hc.Host, interval: hc.Interval.D(), timeout: hc.Timeout.D(),
		rise: hc.HealthyThreshold, fall: hc.UnhealthyThreshold,
	}
	if !strings.HasPrefix(p.path, "/") {
		p.path = "/" + p.path
	}
	if p.interval <= 0 {
		p.interval = defaultHealthInterval
	}
	if p.timeout <= 0 {
		p.timeout = defaultHealthTimeout
	}
	if p.rise <= 0 {
		p.rise = defaultRise
	}
	if p.fall <= 0 {
		p.fall = defaultFall
	}
	statuses := hc.ExpectedStatuses
	if len(statuses) == 0 {
		statuses = []string{"200-399"}
	}
	for _, s := range statuses {
		r, err := parseStatusRange(s)
		if err != nil {
			return nil, fmt.Errorf("health_check.expected_statuses: %w", err)
		}
		p.statuses = append(p.statuses, r)
	}
	return p, nil
}

// parseStatusRange reads "200" or "200-399".
func parseStatusRange(s string) (statusRange, error) {
	lo, hi, isRange := strings.Cut(strings.TrimSpace(s), "-")
	a, err1 := strconv.Atoi(strings.TrimSpace(lo))
	b, err2 := a, error(nil)
	if isRange {
		b, err2 = strconv.Atoi(strings.TrimSpace(hi))
	}
	if err1 != nil || err2 != nil || a < 100 || b > 599 || a > b {
		return statusRange{}, fmt.Errorf("bad status or range %q", s)
	}
	return statusRange{a, b}, nil
}

func (p *healthPolicy) expects(status int) bool {
	for _, r := range p.statuses {
		if status >= r.lo && status <= r.hi {
			return true
		}
	}
	return false
}

// healthLoop checks every endpoint at once, then every interval, until ctx
// ends. A round waits for its slowest check (bounded by the timeout); a
// round longer than the interval delays the next one rather than stacking.
func (c *Cluster) healthLoop(ctx context.Context) {
	t := time.NewTicker(c.health.interval)
	defer t.Stop()
	for {
		c.checkAll(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (c *Cluster) checkAll(ctx context.Context) {
	var wg sync.WaitGroup
	for _, m := range c.snap.Load().members {
		wg.Go(func() {
			err := c.probe(ctx, m)
			if ctx.Err() == nil {
				c.reg.applyCheck(c, m.ep, err)
			}
		})
	}
	wg.Wait()
}

// probe sends one check; nil means it passed.
func (c *Cluster) probe(ctx context.Context, m member) error {
	ctx, cancel := context.WithTimeout(ctx, c.health.timeout)
	defer cancel()
	if c.health.tcp {
		return c.probeTCP(ctx, m)
	}
	scheme := "http"
	if c.cfg.TLS != nil || c.cfg.Protocol == "h3" {
		scheme = "https"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, scheme+"://"+m.ep.addr+c.health.path, nil)
	if err != nil {
		return err
	}
	req.Host = c.health.host
	if req.Host == "" {
		req.Host = m.host
	}
	req.Header.Set("User-Agent", "bouncer-health-check")
	resp, err := c.client.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, healthBodyLimit))
	_ = resp.Body.Close()
	if !c.health.expects(resp.StatusCode) {
		return fmt.Errorf("unexpected status %d", resp.StatusCode)
	}
	return nil
}

// applyCheck records one check result for e and republishes readiness.
func (r *Registry) applyCheck(c *Cluster, e *Endpoint, err error) {
	r.mu.Lock()
	if c.run == nil || r.closed {
		r.mu.Unlock()
		return // deactivated while probing
	}
	if err == nil {
		e.hcFail = 0
		e.hcPass++
		if !e.healthy && e.hcPass >= c.health.rise {
			e.healthy = true
		}
	} else {
		e.hcPass = 0
		e.hcFail++
		if e.healthy && (!e.checked || e.hcFail >= c.health.fall) {
			e.healthy = false
			r.log.Warn("upstream: health check failed", "upstream", c.name, "endpoint", e.addr, "error", err)
		}
	}
	e.checked = true
	evs := r.updateReady(e, nil)
	r.mu.Unlock()
	r.fire(evs)
}

// clearHealth marks c's endpoints healthy: without checks nothing may keep
// them down. Caller holds r.mu.
func (r *Registry) clearHealth(c *Cluster) []event {
	var evs []event
	for _, m := range c.snap.Load().members {
		e := m.ep
		e.healthy, e.checked, e.hcPass, e.hcFail = true, false, 0, 0
		evs = r.updateReady(e, evs)
	}
	return evs
}

// healthClient returns the client for an upstream's checks: the one given
// in Options, or a client without keep-alive (each check proves a fresh
// connection works, and no idle connection outlives a generation) that never
// follows redirects (a 3xx is the answer to judge) and ignores proxy
// environment variables.
func (r *Registry) healthClient(protocol string, ut *configs.UpstreamTLS, entries []entry) (*http.Client, error) {
	if r.client != nil {
		return r.client, nil
	}
	if protocol == "h3" {
		return h3HealthClient(ut, entries)
	}
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: defaultHealthTimeout}).DialContext,
		DisableKeepAlives:   true,
		TLSHandshakeTimeout: defaultHealthTimeout,
	}
	if ut != nil {
		tc, err := healthTLS(ut, entries)
		if err != nil {
			return nil, err
		}
		tr.TLSClientConfig = tc
		tr.ForceAttemptHTTP2 = true
	}
	return &http.Client{
		Transport:     tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}, nil
}

// healthTLS builds the checks' TLS config. Without server_name, the name
// verified is the first DNS entry's host (endpoints are dialed by IP), or
// the IP itself when all entries are IPs.
func healthTLS(ut *configs.UpstreamTLS, entries []entry) (*tls.Config, error) {
	if ut == nil {
		ut = &configs.UpstreamTLS{}
	}
	u := mtls.UpstreamTLS{ServerName: ut.ServerName, CertFile: ut.CertFile, KeyFile: ut.KeyFile, InsecureSkipVerify: ut.InsecureSkipVerify}
	if ut.CAFile != "" {
		u.CAFiles = []string{ut.CAFile}
	}
	tc, err := u.Config()
	if err != nil {
		return nil, fmt.Errorf("tls: %w", err)
	}
	for _, en := range entries {
		if tc.ServerName == "" && !en.ip {
			tc.ServerName = en.host
		}
	}
	return tc, nil
}

// h3HealthClient checks an h3 upstream over HTTP/3. Each check opens a
// connection of its own and the transport keeps none (every check proves a
// fresh handshake works).
func h3HealthClient(ut *configs.UpstreamTLS, entries []entry) (*http.Client, error) {
	tc, err := healthTLS(ut, entries)
	if err != nil {
		return nil, err
	}
	tc.NextProtos = nil
	return &http.Client{
		Transport:     &h3Once{tls: tc},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}, nil
}

// h3Once is an HTTP/3 round tripper with no connection reuse.
type h3Once struct{ tls *tls.Config }

func (h *h3Once) RoundTrip(req *http.Request) (*http.Response, error) {
	tr := &http3.Transport{TLSClientConfig: h.tls, QUICConfig: &quic.Config{HandshakeIdleTimeout: defaultHealthTimeout}}
	res, err := tr.RoundTrip(req)
	if err != nil {
		_ = tr.Close()
		return nil, err
	}
	res.Body = &closeWith{ReadCloser: res.Body, close: tr.Close}
	return res, nil
}

// closeWith closes a transport with the body it delivered.
type closeWith struct {
	io.ReadCloser
	close func() error
}

func (c *closeWith) Close() error {
	err := c.ReadCloser.Close()
	_ = c.close()
	return err
}
