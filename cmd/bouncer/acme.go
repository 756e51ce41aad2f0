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

// acmeChange is a config's ACME settings checked and built but not yet in
// force, so that a reload failing later (a listener that cannot bind)
// leaves the names and storage as they were: apply commits it once
// nothing can fail, and aborts it otherwise. A nil change does nothing.
type acmeChange struct {
	a        *App
	prep     *acme.Prepared
	store    *redisstore.Storage // the Redis storage cfg uses (nil: file storage)
	storeKey string
	made     bool // store was opened for this change
}

// prepareACME makes the manager on first use (not started: startACME
// does that once the listeners that answer challenges are serving), or
// prepares cfg's names and settings for it.
func (a *App) prepareACME(cfg *configs.Config) (*acmeChange, error) {
	if !usesACME(cfg) && a.acme.mgr == nil {
		return nil, nil
	}
	dir, err := dataDir(cfg)
	if err != nil {
		return nil, err
	}
	c := &acmeChange{a: a}
	storage, err := c.openStorage(cfg, dir)
	if err != nil {
		return nil, err
	}
	o, err := acmeOptions(cfg)
	if err != nil {
		c.abort()
		return nil, err
	}
	o.Storage, o.Logger = storage, a.log
	if a.acme.mgr == nil { // the first manager is in force at once: nothing to commit
		if err := a.newACME(o, c); err != nil {
			c.abort()
			return nil, err
		}
		return nil, nil
	}
	if c.prep, err = a.acme.mgr.Prepare(o); err != nil {
		c.abort()
		return nil, err
	}
	return c, nil
}

// newACME makes the process's manager with o and adopts c's storage.
func (a *App) newACME(o acme.Options, c *acmeChange) error {
	o.Registerer = a.metrics.Registry
	m, err := acme.New(context.Background(), o)
	if err != nil {
		return err
	}
	a.acme.mgr = m
	a.acme.store, a.acme.storeKey = c.store, c.storeKey
	a.gw.SetChallenge(m.ServeHTTPChallenge)
	return nil
}

// openStorage is cfg's storage: the Redis storage in use while its
// settings stay the same, a new one when they change, or file storage in
// the data folder.
func (c *acmeChange) openStorage(cfg *configs.Config, dir string) (certmagic.Storage, error) {
	r := cfg.ACME.Storage.Redis
	if r == nil {
		return &certmagic.FileStorage{Path: filepath.Join(dir, "certmagic")}, nil
	}
	key, _ := json.Marshal(r)
	c.storeKey = string(key)
	if cur := c.a.acme.store; cur != nil && c.storeKey == c.a.acme.storeKey {
		c.store = cur
		return cur, nil
	}
	s, err := redisstore.New(redisstore.Options{
		Addr: r.Address, Username: r.Username, Password: r.Password, DB: r.DB,
		Prefix: r.Prefix, LockTTL: r.LockTTL.D(), Logger: c.a.log,
	})
	if err != nil {
		return nil, err
	}
	c.store, c.made = s, true
	return s, nil
}

// commit puts the change in force: the manager switches to the new names
// and settings, and a Redis storage no longer used is closed.
func (c *acmeChange) commit() {
	if c == nil {
		return
	}
	a := c.a
	if err := c.prep.Commit(context.Background()); err != nil {
		a.log.Error("ACME names not updated", "error", err.Error())
	}
	if old := a.acme.store; old != nil && old != c.store {
		_ = old.Close()
	}
	a.acme.store, a.acme.storeKey = c.store, c.storeKey
}

// abort drops the change: a storage opened for it is closed.
func (c *acmeChange) abort() {
	if c != nil && c.made {
		_ = c.store.Close()
	}
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
