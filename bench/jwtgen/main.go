// Command jwtgen makes the credentials of the http1-policies scenario: a
// fresh ECDSA P-256 key pair, its public key as PEM (the file Bouncer's jwt
// policy names in key_files) and one ES256 token signed with it, audience
// "bench", valid for -valid from now. bench/setup.sh runs it on every run,
// so the token never expires during one; the private key is not kept.
package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Audience is the aud claim of the token; the bench's jwt policy accepts
// only it.
const Audience = "bench"

func main() {
	dir := flag.String("dir", ".", "directory to write jwt-pub.pem and jwt-token into")
	valid := flag.Duration("valid", 24*time.Hour, "how long the token is valid")
	flag.Parse()
	if err := write(*dir, *valid, time.Now()); err != nil {
		log.Fatalf("jwtgen: %v", err)
	}
}

// write makes a key pair and writes dir/jwt-pub.pem and dir/jwt-token (the
// compact token, no newline), the token issued at now and expiring valid
// later.
func write(dir string, valid time.Duration, now time.Time) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("generate key: %w", err)
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return fmt.Errorf("marshal public key: %w", err)
	}
	pub := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	token, err := sign(key, valid, now)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "jwt-pub.pem"), pub, 0o644); err != nil {
		return fmt.Errorf("write public key: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "jwt-token"), []byte(token), 0o600); err != nil {
		return fmt.Errorf("write token: %w", err)
	}
	return nil
}

// sign returns an ES256 token for subject "bench-client" and Audience.
func sign(key *ecdsa.PrivateKey, valid time.Duration, now time.Time) (string, error) {
	claims := jwt.RegisteredClaims{
		Subject:   "bench-client",
		Audience:  jwt.ClaimStrings{Audience},
		IssuedAt:  jwt.NewNumericDate(now),
		NotBefore: jwt.NewNumericDate(now.Add(-time.Minute)),
		ExpiresAt: jwt.NewNumericDate(now.Add(valid)),
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodES256, claims).SignedString(key)
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	return s, nil
}
