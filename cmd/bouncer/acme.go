package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"slices"

	"github.com/caddyserver/certmagic"

	"github.com/bouncer-proxy/bouncer/configs"
	"github.com/bouncer-proxy/bouncer/tls/acme"
	"github.com/bouncer-proxy/bouncer/tls/acme/rfc2136"
	"github.com/bouncer-proxy/bouncer/tls/redisstore"
)

// acmeState is the process's one ACME manager and its storage, kept
// across reloads: certificates, accounts and the renewal timer survive a
// config change.
type acmeState struct {
	mgr      *acme.Manager
	store    *redisstore.Storage // nil with file storage
	storeKey string              // the Redis settings store was made from
	started  bool
}

// usesACME reports whether any listener gets certificates over ACME.
func usesACME(cfg *configs.Config) bool {
	return slices.ContainsFunc(cfg.Listeners, func(l configs.Listener) bool { return l.TLS != nil && l.TLS.ACME != nil })
}

// prepareACME makes the manager on first use, or gives it cfg's names and
// settings. It does not start obtaining: startACME does, once the
// listeners that answer challenges are serving.
func (a *App) prepareACME(cfg *configs.Config) error {
	if !usesACME(cfg) && a.acme.mgr == nil {
		return nil
	}
	dir, err := dataDir(cfg)
	if err != nil {
		return err
	}
	storage, oldStore, err := a.acmeStorage(cfg, dir)
	if err != nil {
		return err
	}
	o, err := acmeOptions(cfg)
	if err != nil {
		return err
	}
	o.Storage, o.Logger = storage, a.log
	if a.acme.mgr == nil {
		o.Registerer = a.metrics.Registry
		m, err := acme.New(context.Background(), o)
		if err != nil {
			return err
		}
		a.acme.mgr = m
		a.gw.SetChallenge(m.ServeHTTPChallenge)
	} else if err := a.acme.mgr.Update(context.Background(), o); err != nil {
		return err
	}
	if oldStore != nil {
		_ = oldStore.Close()
	}
	return nil
}

// acmeStorage is the Redis storage of cfg (kept while its settings stay
// the same) or file storage in the data folder; old is a Redis storage
// that cfg no longer uses, to close once the manager has switched.
func (a *App) acmeStorage(cfg *configs.Config, dir string) (cur certmagic.Storage, old *redisstore.Storage, err error) {
	r := cfg.ACME.Storage.Redis
	if r == nil {
		old, a.acme.store, a.acme.storeKey = a.acme.store, nil, ""
		return &certmagic.FileStorage{Path: filepath.Join(dir, "certmagic")}, old, nil
	}
	key, _ := json.Marshal(r)
	if a.acme.store != nil && string(key) == a.acme.storeKey {
		return a.acme.store, nil, nil
	}
	s, err := redisstore.New(redisstore.Options{
		Addr: r.Address, Username: r.Username, Password: r.Password, DB: r.DB,
		Prefix: r.Prefix, LockTTL: r.LockTTL.D(), Logger: a.log,
	})
	if err != nil {
		return nil, nil, err
	}
	old, a.acme.store, a.acme.storeKey = a.acme.store, s, string(key)
	return s, old, nil
}

// acmeOptions maps the acme section and the listeners' tls.acme blocks
// onto the manager's options: the names of every listener, and the one
// on_demand policy (configs.Validate makes them agree), and the DNS-01
// provider.
func acmeOptions(cfg *configs.Config) (acme.Options, error) {
	c := cfg.ACME
	o := acme.Options{
		CA: c.CA, Email: c.Email, CARootsFile: c.CARoots,
		DisableHTTP01:    !slices.Contains(c.Challenges, "http-01"),
		DisableTLSALPN01: !slices.Contains(c.Challenges, "tls-alpn-01"),
		HTTPPort:         c.HTTPPort, TLSPort: c.TLSPort,
	}
	if c.EAB != nil {
		o.EAB = &acme.EAB{KeyID: c.EAB.KeyID, MACKey: c.EAB.MACKey}
	}
	if d := c.DNS; d != nil {
		r := d.RFC2136
		p, err := rfc2136.New(rfc2136.Options{
			Server: r.Server, Zone: r.Zone, KeyName: r.KeyName, KeyAlgorithm: r.KeyAlgorithm,
			KeySecret: r.KeySecret, Timeout: r.Timeout.D(),
		})
		if err != nil {
			return o, cfg.Errorf("acme.dns.rfc2136", "%v", err)
		}
		o.DNSProvider, o.Resolvers = p, d.Resolvers
	}
	for _, l := range cfg.Listeners {
		if l.TLS == nil || l.TLS.ACME == nil {
			continue
		}
		for _, n := range l.TLS.ACME.Names {
			if !slices.Contains(o.Names, n) {
				o.Names = append(o.Names, n)
			}
		}
		if od := l.TLS.ACME.OnDemand; od != nil && o.OnDemand == nil {
			o.OnDemand = &acme.OnDemand{
				Allow: od.Allow, Ask: od.Ask, AskTimeout: od.AskTimeout.D(),
				NegativeTTL: od.DenyCache.D(), RateLimit: od.RateLimit, RateWindow: od.RateWindow.D(),
			}
		}
	}
	return o, nil
}

// startACME begins obtaining certificates once, after the first config's
// listeners serve; later names are picked up by Update.
func (a *App) startACME() {
	if a.acme.mgr == nil || a.acme.started {
		return
	}
	if err := a.acme.mgr.Start(context.Background()); err != nil {
		a.log.Error("ACME certificates not started", "error", err.Error())
		return
	}
	a.acme.started = true
}

// closeACME stops renewals and closes the storage.
func (a *App) closeACME() {
	if a.acme.mgr != nil {
		a.acme.mgr.Close()
	}
	if a.acme.store != nil {
		_ = a.acme.store.Close()
	}
}
