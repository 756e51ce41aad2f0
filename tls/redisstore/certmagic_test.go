package redisstore

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"sync"
	"testing"
	"time"

	"github.com/bouncer-proxy/bouncer/internal/testsvc"
	"github.com/caddyserver/certmagic"
	"go.uber.org/zap"
)

// certPEM is a self-signed certificate for name valid from notBefore to notAfter.
func certPEM(t *testing.T, name string, notBefore, notAfter time.Time) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name}, DNSNames: []string{name},
		NotBefore: notBefore, NotAfter: notAfter,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// certmagic's own CleanStorage, run by two instances at once, takes the
// "storage_clean" lock through Lock/Unlock, walks the tree with List, Load
// and Delete, and leaves the lock free.
func TestCertmagicCleanStorage(t *testing.T) {
	r := testsvc.StartRedis(t)
	a := newStore(t, r.Addr, Options{LockPoll: 5 * time.Millisecond})
	b := newStore(t, r.Addr, Options{LockPoll: 5 * time.Millisecond})
	ctx := t.Context()
	const issuer = "acme-v02.example-directory"
	for _, d := range []string{"old.example", "fresh.example"} {
		site := certmagic.StorageKeys.CertsSitePrefix(issuer, d)
		crt := certmagic.StorageKeys.SiteCert(issuer, d)
		year := 365 * 24 * time.Hour
		v := certPEM(t, d, time.Now().Add(-2*year), time.Now().Add(-year))
		if d == "fresh.example" {
			v = certPEM(t, d, time.Now().Add(-time.Hour), time.Now().Add(year))
		}
		for k, val := range map[string][]byte{crt: v, site + "/" + d + ".key": []byte("k"), site + "/" + d + ".json": []byte("{}")} {
			if err := a.Store(ctx, k, val); err != nil {
				t.Fatal(err)
			}
		}
	}
	var wg sync.WaitGroup
	for i, s := range []*Storage{a, b} {
		wg.Go(func() {
			err := certmagic.CleanStorage(ctx, s, certmagic.CleanStorageOptions{
				InstanceID: []string{"a", "b"}[i], Interval: time.Hour, ExpiredCerts: true,
				Logger: zap.NewNop(),
			})
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if a.Exists(ctx, certmagic.StorageKeys.CertsSitePrefix(issuer, "old.example")) {
		t.Error("the expired certificate's folder survived cleaning")
	}
	if _, err := a.Load(ctx, certmagic.StorageKeys.SiteCert(issuer, "fresh.example")); err != nil {
		t.Errorf("fresh certificate: %v", err)
	}
	if !a.Exists(ctx, "last_clean.json") {
		t.Error("last_clean.json not written")
	}
	if ok, err := b.TryLock(ctx, "storage_clean"); !ok || err != nil {
		t.Errorf("storage_clean lock left held: %v, %v", ok, err)
	}
}
