package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bouncer-proxy/bouncer/l4"

	"github.com/bouncer-proxy/bouncer/configs"
	"github.com/bouncer-proxy/bouncer/l4/upstream"
	"github.com/bouncer-proxy/bouncer/l7"
	"github.com/bouncer-proxy/bouncer/l7/policy"
	"github.com/bouncer-proxy/bouncer/l7/proxy"
	"github.com/bouncer-proxy/bouncer/tls/localca"
	"github.com/bouncer-proxy/bouncer/transcode/sample"
)

// App is one running gateway: the config lifecycle (load, build, swap,
// retire) and everything that survives reloads (sockets, upstream state
// and pools, metrics). Reload and Shutdown may be called from any
// goroutine; they are serialized.
type App struct {
	mu      sync.Mutex
	src     source
	log     *slog.Logger
	level   *slog.LevelVar
	metrics *l7.Metrics
	gw      *l7.Gateway
	reg     *upstream.Registry
	tr      *proxy.Transports
	grpc    *grpcSources
	pol     *policy.State             // rate-limit counters, cache entries, JWKS keys, Redis: kept across reloads
	servers map[string]*runningServer // by listener name
	ports   map[string]*port          // by portKey: sockets kept across reloads
	admin   *adminServer
	sample  *sampleBackend
	cur     *generation
	gen     uint64
	status  reloadStatus
	ready   atomic.Bool
	errc    chan error  // fatal serve errors
	localCA *localca.CA // made when a listener first uses tls.local_ca
	acme    acmeState
	udps    *l7.UDPSockets      // HTTP/3 sockets, handed from a replaced server to its successor
	l4      *l4.Server          // serves the TCP routes of every port
	udp     map[string]*udpPort // by listener name; written under mu and udpMu
	udpMu   sync.Mutex          // lets the metrics collector read udp without mu
	conns   connGate            // server.max_connections over every port
	// shadows counts the mirrors of retired generations whose shadow
	// requests are still being waited for (each up to its shutdown_timeout)
	shadows sync.WaitGroup
	// retiring counts the servers a reload replaced that are still
	// draining; retireCtx ends their drains early when Shutdown's own
	// deadline comes first.
	retiring     sync.WaitGroup
	retireCtx    context.Context
	retireCancel context.CancelFunc
}

// source is where configs come from.
type source struct {
	path string // "" means the embedded default
}

func (s source) load() (*configs.Config, error) {
	if s.path == "" {
		return configs.Parse(configs.Default, configs.DefaultName)
	}
	return configs.Load(s.path)
}

func (s source) name() string {
	if s.path == "" {
		return configs.DefaultName
	}
	return s.path
}

type reloadStatus struct {
	Generation uint64    `json:"generation"`
	LoadedAt   time.Time `json:"loaded_at"`
	Reloads    int       `json:"reloads"`
	Failures   int       `json:"failures"`
	LastError  string    `json:"last_error,omitempty"`
	LastFailAt time.Time `json:"last_failure_at,omitzero"`
}

type runningServer struct {
	srv  *l7.Server
	key  string
	port string   // portKey of the socket it serves
	h    *handoff // what srv accepts from
	done chan struct{}
}

// portKey identifies a socket: the same listener name and address keep
// their socket (and so their bound port, even for port 0) across reloads.
// A change of proxy_protocol makes a new socket (it wraps the listener).
func portKey(lc configs.Listener) string {
	k := lc.Name + "|" + lc.Address
	if pp := lc.ProxyProtocol; pp != nil {
		k += fmt.Sprintf("|%v", *pp)
	}
	return k
}

// newApp prepares an App; Start serves the first config.
func newApp(src source, log *slog.Logger, level *slog.LevelVar, access *slog.Logger) *App {
	m := l7.NewMetrics()
	a := &App{
		src: src, log: log, level: level, metrics: m,
		gw:      l7.NewGateway(m, access),
		tr:      proxy.NewTransports(),
		grpc:    newGRPCSources(log),
		servers: map[string]*runningServer{},
		ports:   map[string]*port{},
		errc:    make(chan error, 1),
		udps:    l7.NewUDPSockets(),
	}
	a.retireCtx, a.retireCancel = context.WithCancel(context.Background())
	a.l4 = &l4.Server{Log: access, Metrics: l4.NewMetrics(m.Registry)}
	a.pol = policy.NewState(log, policy.NewMetrics(m.Registry))
	m.Registry.MustRegister(newUDPCollector(a.udpPorts))
	a.reg = upstream.NewRegistry(upstream.Options{
		Logger: log,
		OnHealthChange: func(up, addr string, healthy bool) {
			v := 0.0
			if healthy {
				v = 1
			}
			m.EndpointHealthy.WithLabelValues(up, addr).Set(v)
			log.Info("endpoint health changed", "upstream", up, "endpoint", addr, "healthy", healthy)
		},
	})
	return a
}

// Start loads, builds and serves the first config.
func (a *App) Start(cfg *configs.Config) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.applyLogLevel(cfg)
	if cfg.Sample.Enabled {
		s, err := startSample(cfg.Sample.Address, a.log)
		if err != nil {
			return err
		}
		a.sample = s
		if err := s.startEcho(cfg.Sample.TCPEcho); err != nil {
			s.Close()
			return err
		}
		if cfg.Sample.GRPCAddress != "" {
			addr, stop, err := sample.Start(cfg.Sample.GRPCAddress)
			if err != nil {
				s.Close()
				return fmt.Errorf("sample gRPC service: %w", err)
			}
			s.grpcAddr, s.stopGRPC = addr, stop
		}
	}
	if err := a.apply(cfg); err != nil {
		return err
	}
	if cfg.Admin.Address != "off" {
		ad, err := startAdmin(cfg.Admin.Address, a)
		if err != nil {
			return err
		}
		a.admin = ad
	}
	a.ready.Store(true)
	return nil
}

// Reload reads the config again and swaps it in; on any error the current
// config keeps serving and the error is returned, logged and counted.
func (a *App) Reload() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	cfg, err := a.src.load()
	if err == nil {
		err = a.apply(cfg)
	}
	if err != nil {
		a.status.Failures++
		a.status.LastError = err.Error()
		a.status.LastFailAt = time.Now()
		a.metrics.Reloads.WithLabelValues("failure").Inc()
		a.log.Error("config reload failed; the previous config keeps serving", "config", a.src.name(), "error", err.Error())
		return err
	}
	a.applyLogLevel(cfg)
	a.status.Reloads++
	a.status.LastError = ""
	a.metrics.Reloads.WithLabelValues("success").Inc()
	a.log.Info("config reloaded", "config", a.src.name(), "generation", a.gen)
	return nil
}

// apply builds cfg, binds new listeners, swaps, then retires the old
// generation. Called with a.mu held.
func (a *App) apply(cfg *configs.Config) error {
	g, err := build(cfg, deps{reg: a.reg, tr: a.tr, metrics: a.metrics, grpc: a.grpc, log: a.log, pol: a.pol, prev: a.cur})
	if err != nil {
		a.tr.Abort() // transports the build prepared; the serving ones are untouched
		return err
	}
	started, keep, certs, err := a.bindListeners(cfg)
	if err != nil {
		g.policies.Close()
		a.tr.Abort()
		return err
	}
	states, err := a.l4States(cfg, g, started)
	if err == nil {
		err = a.applyUDP(cfg, g)
	}
	if err != nil {
		closeAll(started)
		a.closeUnusedPorts()
		g.policies.Close()
		a.tr.Abort()
		certs.abort()
		return err
	}
	// Nothing fails from here on: the new generation takes over.
	certs.commit()
	a.gen++
	g.snap.Generation = a.gen
	a.gw.Swap(g.snap)
	a.reg.Activate(g.clusters)
	names := map[string]bool{}
	for n := range g.clusters {
		names[n] = true
	}
	a.tr.Retain(names)
	a.l4.Retain(names) // TCP connections to removed upstreams end
	a.grpc.activate(g.grpc, g.clusters, g.warm)
	for _, h := range g.trans {
		go h.Warm() // build the bindings now if the descriptors are in, not on a request
	}
	var retired []*runningServer
	for name, rs := range a.servers {
		if !keep[name] {
			retired = append(retired, rs)
			delete(a.servers, name)
		}
	}
	for name, rs := range started {
		a.servers[name] = rs
		go a.serve(rs)
		a.ports[rs.port].attach(rs.h)
	}
	a.conns.max.Store(int64(cfg.Server.MaxConnections))
	a.setPortStates(cfg, states)
	a.retire(retired, cfg.Server.ShutdownTimeout.D())
	a.closeUnusedPorts()
	a.startACME()
	a.retirePolicies(g)
	a.retireMirrors(cfg.Server.ShutdownTimeout.D())
	a.cur = g
	a.status.Generation, a.status.LoadedAt = a.gen, time.Now()
	a.metrics.ConfigGeneration.Set(float64(a.gen))
	return nil
}

func (a *App) applyLogLevel(cfg *configs.Config) {
	if a.level == nil {
		return
	}
	var l slog.Level
	if err := l.UnmarshalText([]byte(cfg.Log.Level)); err == nil {
		a.level.Set(l)
	}
}

// Shutdown drains: stop accepting everywhere, let in-flight requests end
// until ctx is done, then close what remains.
func (a *App) Shutdown(ctx context.Context) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.ready.Store(false)
	for _, p := range a.ports { // stop accepting first: new connections are refused
		p.Close()
	}
	var wg sync.WaitGroup
	errs := make([]error, 0, len(a.servers))
	var emu sync.Mutex
	for _, rs := range a.servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := rs.srv.Shutdown(ctx)
			<-rs.done
			emu.Lock()
			errs = append(errs, err)
			emu.Unlock()
		}()
	}
	for k, p := range a.ports { // TCP routes' connections, alongside
		wg.Go(func() { p.drainL4(ctx) })
		delete(a.ports, k)
	}
	if a.cur != nil { // shadow requests already sent go on to their end too
		for _, m := range a.cur.mirrors {
			wg.Go(func() { _ = m.Drain(ctx) })
		}
	}
	wg.Go(func() { waitCtx(ctx, &a.shadows) }) // and those of retired generations
	// Servers a reload replaced drain on too, and are closed at this
	// deadline if theirs is later.
	stopRetired := context.AfterFunc(ctx, a.retireCancel)
	defer stopRetired()
	wg.Go(func() { waitCtx(ctx, &a.retiring) })
	wg.Wait()
	a.retireCancel()
	a.servers = map[string]*runningServer{}
	for _, u := range a.udp {
		u.stop()
	}
	a.udpMu.Lock()
	a.udp = nil
	a.udpMu.Unlock()
	a.closeACME()
	a.reg.Close()
	a.grpc.close()
	a.pol.Close()
	a.tr.CloseIdle()
	if a.sample != nil {
		a.sample.Close()
	}
	if a.admin != nil {
		a.admin.Close()
	}
	return errors.Join(errs...)
}

// udpPorts is a copy of the current UDP ports, for the metrics collector
// (which runs on the scraping goroutine).
func (a *App) udpPorts() map[string]*udpPort {
	a.udpMu.Lock()
	defer a.udpMu.Unlock()
	out := make(map[string]*udpPort, len(a.udp))
	for k, v := range a.udp {
		out[k] = v
	}
	return out
}

// Addrs lists the bound listener addresses by name (for tests and the banner).
func (a *App) Addrs() map[string]string {
	a.mu.Lock()
	defer a.mu.Unlock()
	m := map[string]string{}
	for name, rs := range a.servers {
		m[name] = rs.srv.Addr().String()
	}
	for name, u := range a.udp {
		m[name] = u.addr
	}
	return m
}

// banner prints what is served and how to try it.
func (a *App) banner(w io.Writer) {
	a.mu.Lock()
	defer a.mu.Unlock()
	fmt.Fprintf(w, "bouncer %s serving %s\n", version, a.src.name())
	names := make([]string, 0, len(a.servers))
	for n := range a.servers {
		names = append(names, n)
	}
	sort.Strings(names)
	var first string
	var tcpAddrs []string
	for _, n := range names {
		s := a.servers[n]
		lc := s.srv.Config()
		scheme := "http"
		if lc.TLS != nil {
			scheme = "https"
		}
		if !slices.ContainsFunc(lc.Protocols, func(p string) bool { return p == "http1" || p == "h2" || p == "h2c" }) {
			scheme = "tcp" // TCP routes only
		}
		url := scheme + "://" + s.srv.Addr().String()
		if scheme == "tcp" {
			tcpAddrs = append(tcpAddrs, s.srv.Addr().String())
		} else if first == "" {
			first = url
		}
		fmt.Fprintf(w, "  listener %-10s %s  %v\n", n, url, lc.Protocols)
	}
	udpNames := make([]string, 0, len(a.udp))
	for n := range a.udp {
		udpNames = append(udpNames, n)
	}
	sort.Strings(udpNames)
	for _, n := range udpNames {
		fmt.Fprintf(w, "  listener %-10s udp://%s  [udp]\n", n, a.udp[n].addr)
	}
	if a.admin != nil {
		fmt.Fprintf(w, "  admin               http://%s  (/healthz /readyz /metrics /config /upstreams)\n", a.admin.addr)
	}
	if a.sample != nil {
		fmt.Fprintf(w, "  sample backend      http://%s  (built-in sample service, for trying Bouncer only)\n", a.sample.addr)
		if a.sample.grpcAddr != "" {
			fmt.Fprintf(w, "  sample gRPC         %s  (built-in library service with reflection, for trying transcoding)\n", a.sample.grpcAddr)
		}
	}
	fmt.Fprintln(w, "Try:")
	if first != "" {
		if a.sample != nil {
			fmt.Fprintf(w, "  curl -i %s/sample/hello\n  curl -N %s/sample/sse\n", first, first)
			if a.sample.grpcAddr != "" {
				fmt.Fprintf(w, "  curl %s/v1/shelves\n  curl %s/v1/shelves/1/books\n  open %s/v1/docs   (the sample API's OpenAPI document, rendered)\n", first, first, first)
			}
		} else {
			fmt.Fprintf(w, "  curl -i %s/\n", first)
		}
	}
	for _, t := range tcpAddrs {
		host, port, _ := net.SplitHostPort(t)
		what := "TCP routes"
		if a.sample != nil && len(a.sample.echo) > 0 {
			what = "type a line: TCP, balanced over the sample echo services"
		}
		fmt.Fprintf(w, "  nc %s %s        (%s)\n", host, port, what)
	}
	if a.admin != nil {
		fmt.Fprintf(w, "  curl http://%s/upstreams\n", a.admin.addr)
	}
}

// setPortStates gives each TCP port its listener's L4 state and caps.
func (a *App) setPortStates(cfg *configs.Config, states map[string]*l4State) {
	for _, lc := range cfg.Listeners {
		p := a.ports[portKey(lc)]
		if p == nil {
			continue // udp only
		}
		if slices.Contains(lc.Protocols, "tcp") {
			p.l4.open.max.Store(int64(lc.Limits.MaxConnections))
		}
		p.state.Store(states[lc.Name]) // nil: HTTP only
	}
}

// retirePolicies releases the serving generation's policies (its
// requests still finish: policies keep working after Close) and the kept
// state (counters, caches) that next's policies do not use.
func (a *App) retirePolicies(next *generation) {
	if a.cur != nil {
		a.cur.policies.Close()
	}
	a.pol.Retain(next.policies) // stores the new policies use; the rest are closed
}

// retireMirrors lets the shadow requests of the generation being replaced
// end, up to timeout, where Shutdown can wait for them.
func (a *App) retireMirrors(timeout time.Duration) {
	if a.cur == nil {
		return
	}
	for _, m := range a.cur.mirrors {
		a.shadows.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			_ = m.Drain(ctx)
		})
	}
}

// waitCtx waits for wg until ctx ends.
func waitCtx(ctx context.Context, wg *sync.WaitGroup) {
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
	}
}
