package main

import (
	"fmt"

	"github.com/bouncer-proxy/bouncer/configs"
	"github.com/bouncer-proxy/bouncer/l7"
	"github.com/bouncer-proxy/bouncer/transcode"
	"github.com/bouncer-proxy/bouncer/transcode/httprule"
)

// buildTranscode makes the terminal of a transcode route: a proxy to the
// gRPC upstream (for its calls and for native gRPC) and the upstream's
// descriptor source. The configured rules' templates are parsed here, so
// `bouncer validate` reports them; their field names can only be checked
// against the descriptors, at run time.
func buildTranscode(cfg *configs.Config, p string, a *configs.TranscodeAction, g *generation, d deps, trusted *l7.Trusted) (*transcode.Handler, *configs.Error) {
	for i, r := range a.Rules {
		for j, b := range r.Bindings {
			_, path := transcode.BindingPattern(b)
			if _, err := httprule.Parse(path); err != nil {
				return nil, cfg.Errorf(fmt.Sprintf("%s.rules[%d].bindings[%d]", p, i, j), "bad path template %q: %v", path, err)
			}
		}
	}
	px, cerr := newProxy(cfg, g, d, trusted, a.Upstream, configs.ProxyAction{Upstream: a.Upstream,
		Timeout: a.Timeout, PerTryTimeout: a.PerTryTimeout, Retry: a.Retry, Forwarded: a.Forwarded})
	if cerr != nil {
		return nil, cerr
	}
	src, ok := g.grpc[a.Upstream]
	if !ok {
		var err error
		if src, err = d.grpc.get(a.Upstream, g.clusters[a.Upstream]); err != nil {
			return nil, cfg.Errorf("upstreams."+a.Upstream+".tls", "%v", err)
		}
		g.grpc[a.Upstream] = src
	}
	h := transcode.New(transcode.Options{Config: a, Proxy: px, Source: src, Logger: d.log})
	g.warm[a.Upstream] = append(g.warm[a.Upstream], h)
	return h, nil
}
