package main

import (
	"fmt"
	"log/slog"
	"slices"
	"testing"

	"github.com/bouncer-proxy/bouncer/configs"
	"github.com/bouncer-proxy/bouncer/l4/upstream"
)

// A descriptor source kept across a reload reads the new endpoints only
// once the reload is applied: building a generation that then fails (a
// listener address taken, say) leaves it on the serving ones.
func TestGRPCSourceMovesAtActivate(t *testing.T) {
	reg := upstream.NewRegistry(upstream.Options{})
	cluster := func(addr string) *upstream.Cluster {
		cfg, err := configs.Parse(fmt.Appendf(nil, `
listeners: [{name: web, address: "127.0.0.1:0"}]
upstreams:
  lib: {protocol: h2c, endpoints: [%q]}
`, addr), "test.yaml")
		if err != nil {
			t.Fatal(err)
		}
		c, err := reg.Build("lib", cfg.Upstreams["lib"])
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	g := newGRPCSources(slog.New(slog.DiscardHandler))
	t.Cleanup(g.close)

	serving := map[string]*upstream.Cluster{"lib": cluster("127.0.0.1:7001")}
	src, err := g.get("lib", serving["lib"])
	if err != nil {
		t.Fatal(err)
	}
	g.activate(map[string]*grpcSource{"lib": src}, serving, nil)

	next := map[string]*upstream.Cluster{"lib": cluster("127.0.0.1:7002")}
	again, err := g.get("lib", next["lib"])
	if err != nil || again != src {
		t.Fatalf("same settings: source %p, %v; want the serving one %p kept", again, err, src)
	}
	if got := src.endpoints(); !slices.Equal(got, []string{"127.0.0.1:7001"}) {
		t.Fatalf("before activate: endpoints %v, want the serving generation's", got)
	}
	g.activate(map[string]*grpcSource{"lib": again}, next, nil)
	if got := src.endpoints(); !slices.Equal(got, []string{"127.0.0.1:7002"}) {
		t.Fatalf("after activate: endpoints %v, want the new generation's", got)
	}
}
