package upstream

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"time"

	"github.com/bouncer-proxy/bouncer/configs"
)

// entry is one configs.Endpoint, parsed.
type entry struct {
	addr   string // as configured: host:port
	host   string
	port   string
	weight int
	ip     bool // host is an IP literal: no resolution
}

// parseEntries checks every endpoint address. A weight below 1 counts as 1.
func parseEntries(eps []configs.Endpoint) ([]entry, error) {
	if len(eps) == 0 {
		return nil, errors.New("no endpoints")
	}
	out := make([]entry, 0, len(eps))
	for i, ep := range eps {
		host, port, err := net.SplitHostPort(ep.Address)
		if err != nil {
			return nil, fmt.Errorf("endpoints[%d]: %w", i, err)
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("endpoints[%d]: bad port %q", i, port)
		}
		if host == "" {
			return nil, fmt.Errorf("endpoints[%d]: %q has no host", i, ep.Address)
		}
		en := entry{addr: ep.Address, host: host, port: port, weight: max(ep.Weight, 1)}
		if ip, err := netip.ParseAddr(host); err == nil {
			en.ip = true
			en.addr = net.JoinHostPort(ip.String(), port) // canonical form
		}
		out = append(out, en)
	}
	return out, nil
}

// hasNames reports whether any entry needs DNS.
func (c *Cluster) hasNames() bool {
	for _, en := range c.entries {
		if !en.ip {
			return true
		}
	}
	return false
}

// resolve looks up every DNS entry, each bounded by dnsTimeout. res[i] holds
// the sorted, distinct ip:port addresses of entry i; errs[i] its failure (an
// empty answer is a failure too, so a flapping resolver cannot empty the
// cluster). It takes no lock.
func (c *Cluster) resolve(ctx context.Context) (res [][]string, errs []error) {
	res = make([][]string, len(c.entries))
	errs = make([]error, len(c.entries))
	for i, en := range c.entries {
		if en.ip {
			continue
		}
		lctx, cancel := context.WithTimeout(ctx, dnsTimeout)
		ips, err := c.reg.lookup(lctx, en.host)
		cancel()
		if err == nil && len(ips) == 0 {
			err = fmt.Errorf("lookup %s: no addresses", en.host)
		}
		if err != nil {
			errs[i] = err
			continue
		}
		addrs := make([]string, 0, len(ips))
		for _, ip := range ips {
			addrs = append(addrs, net.JoinHostPort(ip, en.port))
		}
		slices.Sort(addrs)
		res[i] = slices.Compact(addrs)
	}
	return res, errs
}

// dnsLoop re-resolves the cluster's DNS entries every refresh period until
// ctx ends.
func (c *Cluster) dnsLoop(ctx context.Context) {
	t := time.NewTicker(c.refresh)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		res, errs := c.resolve(ctx)
		if ctx.Err() != nil {
			return
		}
		c.reg.applyDNS(c, res, errs)
	}
}

// applyDNS installs fresh answers. An entry whose lookup failed keeps its
// previous addresses. When the endpoint set changes, a new picker is built;
// addresses that stay keep their Endpoint and its state.
func (r *Registry) applyDNS(c *Cluster, res [][]string, errs []error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c.run == nil {
		return // deactivated while resolving
	}
	for i, err := range errs {
		if err != nil {
			r.log.Warn("upstream: dns refresh failed, keeping previous addresses",
				"upstream", c.name, "endpoint", c.entries[i].addr, "error", err)
			continue
		}
		if !c.entries[i].ip {
			c.resolved[i] = res[i]
		}
	}
	ms := c.collect()
	if sameMembers(ms, c.snap.Load().members) {
		return
	}
	r.log.Info("upstream: endpoint set changed by dns", "upstream", c.name, "endpoints", len(ms))
	c.setMembers(ms)
	c.grp.prune()
}

// sameMembers reports whether a and b hold the same endpoints and weights.
func sameMembers(a, b []member) bool {
	return slices.EqualFunc(a, b, func(x, y member) bool {
		return x.ep == y.ep && x.weight == y.weight && x.host == y.host
	})
}
