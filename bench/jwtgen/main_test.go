package main

import (
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// TestWrite checks that the token verifies with the written public key
// only, carries the bench audience and expires when asked.
func TestWrite(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	if err := write(dir, time.Hour, now); err != nil {
		t.Fatal(err)
	}
	pemBytes, err := os.ReadFile(filepath.Join(dir, "jwt-pub.pem"))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(pemBytes)
	if block == nil || block.Type != "PUBLIC KEY" {
		t.Fatalf("no public key block in %q", pemBytes)
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := pub.(*ecdsa.PublicKey); !ok {
		t.Fatalf("public key is %T", pub)
	}
	token, err := os.ReadFile(filepath.Join(dir, "jwt-token"))
	if err != nil {
		t.Fatal(err)
	}
	var claims jwt.RegisteredClaims
	_, err = jwt.ParseWithClaims(string(token), &claims, func(*jwt.Token) (any, error) { return pub, nil },
		jwt.WithValidMethods([]string{"ES256"}), jwt.WithAudience(Audience), jwt.WithExpirationRequired())
	if err != nil {
		t.Fatalf("token does not verify: %v", err)
	}
	if got := claims.ExpiresAt.Time.Sub(now); got < time.Hour-time.Second || got > time.Hour+time.Second {
		t.Errorf("expires in %v, want 1h", got)
	}
	// A second run makes another key: the first token must not verify with it.
	other := t.TempDir()
	if err := write(other, time.Hour, now); err != nil {
		t.Fatal(err)
	}
	pemBytes, _ = os.ReadFile(filepath.Join(other, "jwt-pub.pem"))
	block, _ = pem.Decode(pemBytes)
	pub2, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := jwt.Parse(string(token), func(*jwt.Token) (any, error) { return pub2, nil }); err == nil {
		t.Error("token verified with another key")
	}
}

func TestWriteBadDir(t *testing.T) {
	if err := write(filepath.Join(t.TempDir(), "missing"), time.Hour, time.Now()); err == nil {
		t.Fatal("no error for a missing directory")
	}
}
