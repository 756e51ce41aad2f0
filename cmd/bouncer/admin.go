package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/http/pprof"
	"slices"
	"sort"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/bouncer-proxy/bouncer/configs"
	"github.com/bouncer-proxy/bouncer/l4/upstream"
	"github.com/bouncer-proxy/bouncer/l7/policy/cache"
)

// adminServer is the admin API. It listens on loopback by default and is
// never part of the data path.
type adminServer struct {
	addr string
	srv  *http.Server
}

func startAdmin(addr string, a *App) (*adminServer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !a.ready.Load() {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "draining"})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(a.metrics.Registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /config", a.handleConfig)
	mux.HandleFunc("GET /upstreams", a.handleUpstreams)
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, _ *http.Request) {
		a.mu.Lock()
		st := a.status
		a.mu.Unlock()
		writeJSON(w, http.StatusOK, st)
	})
	// Profiles, for finding where CPU and memory go under load. The admin
	// listener is on loopback unless the operator moves it.
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("POST /reload", func(w http.ResponseWriter, _ *http.Request) {
		if err := a.Reload(); err != nil {
			writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"reloaded": false, "error": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"reloaded": true})
	})
	// gRPC descriptors of transcode routes: what each endpoint serves, and
	// a refresh on demand (?upstream=NAME, or all).
	mux.HandleFunc("GET /descriptors", func(w http.ResponseWriter, _ *http.Request) {
		a.mu.Lock()
		routes := map[string][]string{}
		if a.cur != nil {
			for name, h := range a.cur.trans {
				routes[name] = h.Bindings()
			}
		}
		a.mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]any{"upstreams": a.grpc.status(), "routes": routes})
	})
	mux.HandleFunc("POST /descriptors/refresh", func(w http.ResponseWriter, r *http.Request) {
		name := r.URL.Query().Get("upstream")
		if _, known := a.grpc.status()[name]; name != "" && !known {
			writeJSON(w, http.StatusNotFound, map[string]any{"refreshed": false,
				"error": fmt.Sprintf("no gRPC upstream named %q is in use by a transcode route", name)})
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
		defer cancel()
		if err := a.grpc.refresh(ctx, name); err != nil {
			writeJSON(w, http.StatusBadGateway, map[string]any{"refreshed": false, "error": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"refreshed": true, "upstreams": a.grpc.status()})
	})
	// Cache purges: POST /cache/purge?policy=NAME&key=URL or &prefix=URL
	// (keys are scheme://host/path?query, as Cache-Status reports them).
	mux.HandleFunc("POST /cache/purge", a.handlePurge)
	s := &adminServer{addr: ln.Addr().String(), srv: &http.Server{
		Handler: adminGuard(ln.Addr().String(), mux), ReadHeaderTimeout: 5 * time.Second, IdleTimeout: time.Minute,
	}}
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.log.Error("admin server stopped", "error", err.Error())
		}
	}()
	return s, nil
}

func (s *adminServer) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = s.srv.Shutdown(ctx)
}

// handleConfig shows the effective config (defaults filled in) as YAML,
// with its secrets redacted (configs.Redact).
func (a *App) handleConfig(w http.ResponseWriter, _ *http.Request) {
	a.mu.Lock()
	cfg := a.cur.cfg
	a.mu.Unlock()
	out, err := configs.Redact(cfg)
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
		return
	}
	w.Header().Set("Content-Type", "application/yaml")
	_, _ = w.Write([]byte("# effective config of " + configName(cfg) + "\n"))
	_, _ = w.Write(out)
}

func configName(cfg *configs.Config) string {
	if cfg.File == "" {
		return configs.DefaultName
	}
	return cfg.File
}

func (a *App) handleUpstreams(w http.ResponseWriter, _ *http.Request) {
	a.mu.Lock()
	clusters := a.cur.clusters
	a.mu.Unlock()
	names := make([]string, 0, len(clusters))
	for n := range clusters {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]upstream.ClusterStatus, 0, len(names))
	for _, n := range names {
		out = append(out, clusters[n].Status())
	}
	writeJSON(w, http.StatusOK, map[string]any{"upstreams": out})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false) // an admin API read by people and tools, not embedded in HTML
	_ = enc.Encode(v)
}

// handlePurge removes one cache entry (key) or every entry under a prefix
// from a cache policy of the serving generation.
func (a *App) handlePurge(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	name, key, prefix := q.Get("policy"), q.Get("key"), q.Get("prefix")
	if (key == "") == (prefix == "") {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "give key or prefix (one of them)"})
		return
	}
	a.mu.Lock()
	var caches map[string]*cache.Cache
	if a.cur != nil {
		caches = a.cur.policies.Caches()
	}
	a.mu.Unlock()
	c := caches[name]
	if c == nil {
		names := slices.Sorted(maps.Keys(caches))
		writeJSON(w, http.StatusNotFound, map[string]any{"error": fmt.Sprintf("no cache policy named %q", name), "caches": names})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	if key != "" {
		if err := c.Purge(ctx, key); err != nil {
			writeJSON(w, http.StatusBadGateway, map[string]any{"purged": 0, "error": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"purged": 1})
		return
	}
	n, err := c.PurgePrefix(ctx, prefix)
	if err != nil {
		writeJSON(w, http.StatusBadGateway, map[string]any{"purged": n, "error": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"purged": n})
}
