// Package upstream owns backend clusters: endpoints, load-balancing pickers,
// active HTTP health checks, passive outlier ejection, DNS re-resolution,
// circuit-breaker counters and the retry budget. L4 and L7 share it.
//
// The control plane (health checks, ejection, DNS) decides which endpoints are
// ready; from that set an immutable picker is built and swapped in behind an
// atomic.Pointer. The data plane only reads it: Cluster.Pick never blocks and
// does no I/O, and outcomes flow back through Endpoint.Done.
//
// Lifecycle, driven by the config reload: Registry.Build makes a Cluster per
// upstream (reusing the state of endpoints it already knows), the caller swaps
// the new generation in, then Registry.Activate starts its loops and stops the
// old generation's. Registry.Close stops everything.
package upstream

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
)

// ErrNoHealthyEndpoint is returned by Cluster.Pick when no endpoint is ready:
// every one is unhealthy, ejected, or the cluster has none (e.g. DNS has not
// answered yet). Proxies answer 503.
var ErrNoHealthyEndpoint = errors.New("upstream: no healthy endpoint")

// ErrClosed is returned by Registry.Build after Registry.Close.
var ErrClosed = errors.New("upstream: registry closed")

// Options configures a Registry. Every field is optional.
type Options struct {
	// Logger receives control-plane events (health changes, ejections, DNS
	// errors). Nil discards them.
	Logger *slog.Logger
	// LookupHost resolves a DNS name to IP addresses. Nil uses
	// net.DefaultResolver.LookupHost.
	LookupHost func(ctx context.Context, host string) ([]string, error)
	// HealthClient sends active health checks. Nil: the registry builds its
	// own (no keep-alive, so every check also proves a connection can be made;
	// TLS per the upstream's tls block). A given client is used for every
	// upstream as is; the per-check timeout comes from the context.
	HealthClient *http.Client
	// OnHealthChange, when set, is called after an endpoint enters
	// (healthy=true) or leaves (healthy=false) the ready set, because of an
	// active check or an outlier ejection. It runs on a control-plane
	// goroutine with no lock held, and must not block for long.
	OnHealthChange func(upstream, addr string, healthy bool)
}

// Result is the outcome of one request (or one L4 connection) to an endpoint,
// reported through Endpoint.Done.
type Result struct {
	// ConnectFailure: the connection could not be opened (refused, timeout,
	// TLS handshake failure). Counts towards consecutive_connect_failures.
	ConnectFailure bool
	// Status is the HTTP status received (0 when none, e.g. for L4).
	// Status >= 500 counts towards consecutive_5xx.
	Status int
	// Reset: the connection broke after it was opened, before a response.
	// Counts towards consecutive_5xx, as a gateway error would.
	Reset bool
}

// failed reports whether r counts as a failure, and of which kind.
func (r Result) failed() (connect, server bool) {
	if r.ConnectFailure {
		return true, false
	}
	return false, r.Reset || r.Status >= 500
}
