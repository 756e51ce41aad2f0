package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/bouncer-proxy/bouncer/configs"
	"github.com/bouncer-proxy/bouncer/l7"
	"github.com/bouncer-proxy/bouncer/tls/localca"
)

// dataDir is server.data_dir, or the XDG data folder of Bouncer.
func dataDir(cfg *configs.Config) (string, error) {
	if d := cfg.Server.DataDir; d != "" {
		return d, nil
	}
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "bouncer"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("no server.data_dir and no home folder to keep state in: %w", err)
	}
	return filepath.Join(home, ".local", "share", "bouncer"), nil
}

// serverOptions gives listeners what they share: metrics, the log, and
// the certificate sources their tls blocks ask for, made on first use and
// kept across reloads. The ACME manager's new settings come back as a
// change for the caller to commit or abort.
func (a *App) serverOptions(cfg *configs.Config) (l7.ServerOptions, *acmeChange, error) {
	o := l7.ServerOptions{Metrics: a.metrics, Logger: a.log, UDP: a.udps}
	for _, l := range cfg.Listeners {
		if l.TLS == nil || l.TLS.LocalCA == nil || a.localCA != nil {
			continue
		}
		dir, err := dataDir(cfg)
		if err != nil {
			return o, nil, err
		}
		ca, err := localca.Open(filepath.Join(dir, "pki", "local"))
		if err != nil {
			return o, nil, err
		}
		a.localCA = ca
		a.log.Info("local CA ready: clients must trust its root to verify this listener", "listener", l.Name, "root", ca.RootFile())
	}
	o.LocalCA = a.localCA
	change, err := a.prepareACME(cfg)
	if err != nil {
		return o, nil, err
	}
	if a.acme.mgr != nil {
		o.ACME = a.acme.mgr
	}
	return o, change, nil
}
