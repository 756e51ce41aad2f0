package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/bouncer-proxy/bouncer/configs"
	"github.com/bouncer-proxy/bouncer/l7"
	"github.com/bouncer-proxy/bouncer/listener"
)

// bindListeners prepares servers for new or changed listeners; unchanged
// ones are kept (keep[name]). A changed listener keeps its socket (see
// port) and gets a new server on it. New sockets use SO_REUSEPORT, so a
// renamed listener can bind an address the old socket still holds. On
// error every socket opened here is closed again.
func (a *App) bindListeners(cfg *configs.Config) (started map[string]*runningServer, keep map[string]bool, change *acmeChange, err error) {
	started = map[string]*runningServer{}
	keep = map[string]bool{}
	opts, change, err := a.serverOptions(cfg)
	if err != nil {
		return nil, nil, nil, err
	}
	defer func() {
		if err != nil {
			change.abort()
		}
	}()
	for _, lc := range cfg.Listeners {
		if !usesTCP(lc) {
			continue // udp only: its socket is applyUDP's
		}
		key, err := listenerKey(lc)
		if err != nil {
			closeAll(started)
			a.closeUnusedPorts()
			return nil, nil, nil, cfg.Errorf("listeners", "listener %s: %v", lc.Name, err)
		}
		if rs, ok := a.servers[lc.Name]; ok && rs.key == key {
			keep[lc.Name] = true
			continue
		}
		pk := portKey(lc)
		p, ok := a.ports[pk]
		if !ok {
			ln, err := listener.ListenTCP(lc.Address, servesHTTP(lc))
			if err != nil {
				closeAll(started)
				a.closeUnusedPorts()
				return nil, nil, nil, fmt.Errorf("listener %s: %w", lc.Name, err)
			}
			if pp := lc.ProxyProtocol; pp != nil {
				if ln, err = proxyListener(ln, pp); err != nil {
					closeAll(started)
					a.closeUnusedPorts()
					return nil, nil, nil, cfg.Errorf("listeners", "listener %s: proxy_protocol: %v", lc.Name, err)
				}
			}
			p = newPort(ln, a.log, a.l4, &a.conns, lc.Name)
			a.ports[pk] = p
		}
		h := p.newHandoff()
		srv, err := l7.NewServer(h, lc, a.gw.Handler(lc.Name), opts)
		if err != nil {
			closeAll(started)
			a.closeUnusedPorts()
			return nil, nil, nil, err
		}
		started[lc.Name] = &runningServer{srv: srv, key: key, port: pk, h: h, done: make(chan struct{})}
	}
	return started, keep, change, nil
}

// servesHTTP reports whether a listener serves HTTP (and not only TCP
// routes).
func servesHTTP(lc configs.Listener) bool {
	return slices.ContainsFunc(lc.Protocols, func(p string) bool { return p == "http1" || p == "h2" || p == "h2c" })
}

// usesTCP reports whether a listener needs a TCP socket: any protocol but
// udp (and h3, which rides on a TCP listener's TLS).
func usesTCP(lc configs.Listener) bool {
	return slices.ContainsFunc(lc.Protocols, func(p string) bool { return p != "udp" })
}

// closeUnusedPorts closes sockets that no current server owns: those of
// removed listeners, and those bound by a reload that then failed.
func (a *App) closeUnusedPorts() {
	used := map[string]bool{}
	for _, rs := range a.servers {
		used[rs.port] = true
	}
	for k, p := range a.ports {
		if !used[k] {
			p.Close()
			delete(a.ports, k)
		}
	}
}

func closeAll(m map[string]*runningServer) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, rs := range m {
		_ = rs.srv.Shutdown(ctx)
	}
}

// listenerKey fingerprints what requires a new socket or server when it
// changes: the listener settings and its certificate files' contents.
func listenerKey(lc configs.Listener) (string, error) {
	h := sha256.New()
	settings, err := json.Marshal(lc) // follows pointers, unlike %v
	if err != nil {
		return "", err
	}
	h.Write(settings)
	if t := lc.TLS; t != nil {
		files := []string{}
		for _, p := range t.Pairs() {
			files = append(files, p.CertFile, p.KeyFile)
		}
		if t.ClientAuth != nil {
			files = append(files, t.ClientAuth.CAFiles...)
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				return "", err
			}
			h.Write(b)
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func (a *App) serve(rs *runningServer) {
	defer close(rs.done)
	if err := rs.srv.Serve(); err != nil {
		a.log.Error("listener stopped", "listener", rs.srv.Name, "error", err.Error())
		select {
		case a.errc <- fmt.Errorf("listener %s: %w", rs.srv.Name, err):
		default:
		}
	}
}

// retire drains servers of listeners that are gone or changed, in the
// background: their in-flight requests finish on their connections, up to
// timeout. Shutdown waits for them (and cuts them off at its own
// deadline).
func (a *App) retire(rss []*runningServer, timeout time.Duration) {
	for _, rs := range rss {
		a.retiring.Go(func() {
			ctx, cancel := context.WithTimeout(a.retireCtx, timeout)
			defer cancel()
			_ = rs.srv.Shutdown(ctx)
			<-rs.done
		})
	}
}
