package main

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bouncer-proxy/bouncer/configs"
	"github.com/bouncer-proxy/bouncer/l4/upstream"
	"github.com/bouncer-proxy/bouncer/l7/proxy"
	"github.com/bouncer-proxy/bouncer/transcode"
	"github.com/bouncer-proxy/bouncer/transcode/descriptors"
)

// grpcSources keeps one descriptor source per gRPC upstream used by a
// transcode route, across reloads: a reload with the same grpc settings
// keeps the watcher and the descriptors it has, so transcoding serves on
// at once. Building a generation only prepares sources; activate starts
// the used ones and stops the rest, so `bouncer validate` starts nothing.
type grpcSources struct {
	log *slog.Logger

	mu sync.Mutex
	m  map[string]*grpcSource // by upstream name
}

func newGRPCSources(log *slog.Logger) *grpcSources {
	return &grpcSources{log: log, m: map[string]*grpcSource{}}
}

// grpcSource is the descriptors of one upstream: a transcode.Source.
type grpcSource struct {
	name    string
	key     string // the settings it was made with
	w       *descriptors.Watcher
	cluster atomic.Pointer[upstream.Cluster]     // the newest generation's, for endpoint addresses
	warm    atomic.Pointer[[]*transcode.Handler] // the serving generation's handlers on this upstream
	cancel  context.CancelFunc                   // set once started
}

// rebuild builds the serving handlers' method tables for new descriptors
// at once, so that no request waits for it.
func (s *grpcSource) rebuild(*descriptors.Set) {
	if hs := s.warm.Load(); hs != nil {
		for _, h := range *hs {
			h.Warm()
		}
	}
}

// Current is the newest descriptor set; nil before the first fetch.
func (s *grpcSource) Current() *descriptors.Set { return s.w.Current() }

// RequestRefresh asks for fresh descriptors in the background (the
// watcher limits how often it fetches).
func (s *grpcSource) RequestRefresh() { s.w.RequestRefresh() }

// Status is the per-endpoint fetch state, for the admin API.
func (s *grpcSource) Status() []descriptors.EndpointStatus { return s.w.Status() }

func (s *grpcSource) endpoints() []string {
	c := s.cluster.Load()
	if c == nil {
		return nil
	}
	eps := c.Endpoints()
	out := make([]string, 0, len(eps))
	for _, e := range eps {
		out = append(out, e.Address())
	}
	return out
}

// get returns the source of upstream name for cluster c, made anew when
// the upstream's gRPC settings changed. A source kept from the serving
// generation goes on reading the serving cluster's endpoints until
// activate: a reload that fails after get must not move it.
func (g *grpcSources) get(name string, c *upstream.Cluster) (*grpcSource, error) {
	cfg := c.Config()
	gc := cfg.GRPC
	if gc == nil {
		gc = &configs.UpstreamGRPC{Reflection: true, RefreshInterval: configs.Duration(time.Minute)}
	}
	key := fmt.Sprintf("%s|%+v|%+v", cfg.Protocol, *gc, cfg.TLS)
	g.mu.Lock()
	defer g.mu.Unlock()
	if s, ok := g.m[name]; ok && s.key == key {
		return s, nil // serving: it takes c's endpoints at activate, not before
	}
	opts := descriptors.Options{Metadata: gc.ReflectionMetadata, Timeout: 10 * time.Second}
	if cfg.Protocol == "h2" {
		tc, err := proxy.UpstreamTLS(cfg.TLS)
		if err != nil {
			return nil, err
		}
		tc.NextProtos = []string{"h2"}
		opts.TLS = tc
	}
	s := &grpcSource{name: name, key: key}
	s.cluster.Store(c)
	wc := descriptors.WatcherConfig{
		Endpoints: s.endpoints,
		Options:   opts,
		Interval:  gc.RefreshInterval.D(),
		Logger:    g.log.With("upstream", name),
		OnChange:  s.rebuild,
	}
	if !gc.Reflection {
		wc.Protoset = gc.Protoset
	}
	s.w = descriptors.NewWatcher(wc)
	return s, nil
}

// activate starts the sources named in used and stops every other one;
// each used source reads its endpoints from clusters from now on, and
// rebuilds warm's handlers when its descriptors change.
func (g *grpcSources) activate(used map[string]*grpcSource, clusters map[string]*upstream.Cluster, warm map[string][]*transcode.Handler) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for name, s := range g.m {
		if used[name] != s {
			s.stop()
			delete(g.m, name)
		}
	}
	for name, s := range used {
		g.m[name] = s
		if c := clusters[name]; c != nil {
			s.cluster.Store(c)
		}
		hs := warm[name]
		s.warm.Store(&hs)
		if s.cancel == nil {
			ctx, cancel := context.WithCancel(context.Background())
			s.cancel = cancel
			s.w.Start(ctx)
		}
	}
}

func (s *grpcSource) stop() {
	if s.cancel != nil {
		s.cancel()
		s.w.Stop()
	}
}

// close stops every source.
func (g *grpcSources) close() { g.activate(nil, nil, nil) }

// status lists every source's endpoints, for the admin API.
func (g *grpcSources) status() map[string][]descriptors.EndpointStatus {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := map[string][]descriptors.EndpointStatus{}
	names := make([]string, 0, len(g.m))
	for n := range g.m {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		out[n] = g.m[n].Status()
	}
	return out
}

// refresh fetches the descriptors of upstream name now (all when name is
// empty), for the admin API's POST /descriptors/refresh.
func (g *grpcSources) refresh(ctx context.Context, name string) error {
	g.mu.Lock()
	var list []*grpcSource
	for n, s := range g.m {
		if name == "" || n == name {
			list = append(list, s)
		}
	}
	g.mu.Unlock()
	if name != "" && len(list) == 0 {
		return fmt.Errorf("no gRPC upstream named %q is in use by a transcode route", name)
	}
	for _, s := range list {
		if err := s.w.Refresh(ctx); err != nil {
			return fmt.Errorf("upstream %s: %w", s.name, err)
		}
	}
	return nil
}
