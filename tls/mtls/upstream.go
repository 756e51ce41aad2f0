package mtls

import (
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// UpstreamTLS is the TLS Bouncer speaks towards an upstream's endpoints.
type UpstreamTLS struct {
	ServerName         string   // SNI and the name verified; "" lets the caller's dialer fill it
	CAFiles            []string // PEM bundles to verify endpoints with; none means the system roots
	CertFile, KeyFile  string   // client certificate for endpoints that ask (mTLS); both or neither
	InsecureSkipVerify bool     // do not verify endpoints; for tests only
	MinVersion         uint16   // tls.VersionTLS10 to 13; 0 means TLS 1.2
}

// reloadEvery is how often, at most, the client certificate files are
// checked for changes.
const reloadEvery = time.Second

// Config builds the client tls.Config. Verification is on unless
// InsecureSkipVerify (which may not be combined with CAFiles). The client
// certificate is loaded now, so a bad pair fails at config load; later,
// at most once a second, a handshake that is asked for a certificate
// checks the files and loads them again when either changed (size, mtime
// or the file itself, as a rename-based deploy replaces it). A reload that
// fails keeps the previous certificate and is tried again when the files
// change once more.
func (u UpstreamTLS) Config() (*tls.Config, error) {
	return u.config(time.Now)
}

// config is Config with the clock given, for tests.
func (u UpstreamTLS) config(now func() time.Time) (*tls.Config, error) {
	minVersion := u.MinVersion
	if minVersion == 0 {
		minVersion = tls.VersionTLS12
	}
	if minVersion < tls.VersionTLS10 || minVersion > tls.VersionTLS13 {
		return nil, fmt.Errorf("mtls: upstream tls: unknown min version %#04x", u.MinVersion)
	}
	cfg := &tls.Config{ServerName: u.ServerName, MinVersion: minVersion, InsecureSkipVerify: u.InsecureSkipVerify}
	if len(u.CAFiles) > 0 {
		if u.InsecureSkipVerify {
			return nil, errors.New("mtls: upstream tls: insecure_skip_verify and ca files both set")
		}
		pool, err := LoadPool(u.CAFiles)
		if err != nil {
			return nil, fmt.Errorf("mtls: upstream tls: %w", err)
		}
		cfg.RootCAs = pool
	}
	if (u.CertFile == "") != (u.KeyFile == "") {
		return nil, errors.New("mtls: upstream tls: cert file and key file go together")
	}
	if u.CertFile != "" {
		r := &certReloader{certFile: u.CertFile, keyFile: u.KeyFile, now: now}
		if err := r.load(); err != nil {
			return nil, err
		}
		r.checked.Store(now().UnixNano())
		cfg.GetClientCertificate = r.get
	}
	return cfg, nil
}

// certReloader serves a client certificate and loads it again when its
// files change. Handshakes read the current one without locking.
type certReloader struct {
	certFile, keyFile string
	now               func() time.Time

	cur     atomic.Pointer[loadedCert]
	checked atomic.Int64 // unix nanos of the last look at the files
	mu      sync.Mutex   // serialises loads
	failed  [2]os.FileInfo
}

// loadedCert is one version of the certificate and the files it came from.
type loadedCert struct {
	cert  *tls.Certificate
	files [2]os.FileInfo
}

// get is the GetClientCertificate hook, called from handshake goroutines.
// At most one caller a second stats the files; it alone may reload them.
func (r *certReloader) get(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
	now := r.now().UnixNano()
	last := r.checked.Load()
	if now-last >= int64(reloadEvery) && r.checked.CompareAndSwap(last, now) {
		r.refresh()
	}
	return r.cur.Load().cert, nil
}

// refresh reloads the pair if either file changed since it was loaded and
// since the last failed attempt.
func (r *certReloader) refresh() {
	r.mu.Lock()
	defer r.mu.Unlock()
	files, err := r.stat()
	if err != nil || sameFiles(files, r.cur.Load().files) || sameFiles(files, r.failed) {
		return
	}
	if r.load() != nil {
		r.failed = files
	}
}

// load reads the pair and makes it current. The files are stated before
// they are read, so a change during the read is seen on the next check.
func (r *certReloader) load() error {
	files, err := r.stat()
	if err != nil {
		return err
	}
	cert, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		return fmt.Errorf("mtls: upstream client certificate %s: %w", r.certFile, err)
	}
	r.cur.Store(&loadedCert{cert: &cert, files: files})
	return nil
}

// stat looks at both files.
func (r *certReloader) stat() ([2]os.FileInfo, error) {
	var files [2]os.FileInfo
	for i, name := range []string{r.certFile, r.keyFile} {
		fi, err := os.Stat(name)
		if err != nil {
			return files, fmt.Errorf("mtls: upstream client certificate: %w", err)
		}
		files[i] = fi
	}
	return files, nil
}

// sameFiles reports whether a and b describe the same versions of files.
func sameFiles(a, b [2]os.FileInfo) bool {
	for i := range a {
		if a[i] == nil || b[i] == nil || !os.SameFile(a[i], b[i]) ||
			a[i].Size() != b[i].Size() || !a[i].ModTime().Equal(b[i].ModTime()) {
			return false
		}
	}
	return true
}
