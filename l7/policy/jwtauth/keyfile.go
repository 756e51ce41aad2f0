package jwtauth

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/go-jose/go-jose/v4"
)

// readKeyFiles loads every key of every file; a file that cannot be read or
// holds no usable public key is an error naming it.
func readKeyFiles(paths []string) ([]pubKey, error) {
	var keys []pubKey
	var errs []error
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			errs = append(errs, fmt.Errorf("key file: %w", err))
			continue
		}
		got, err := parseKeyFile(data)
		if err != nil {
			errs = append(errs, fmt.Errorf("key file %s: %w", p, err))
			continue
		}
		keys = append(keys, got...)
	}
	return keys, errors.Join(errs...)
}

// parseKeyFile reads a JWKS, a single JWK or PEM blocks.
func parseKeyFile(data []byte) ([]pubKey, error) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) > 0 && trimmed[0] == '{' {
		return parseJSONKeys(trimmed)
	}
	return parsePEMKeys(trimmed)
}

// parseJSONKeys reads a JWKS document, or one JWK when the object has no
// "keys" member. Unlike a fetched document, a local file must be entirely
// usable: a bad key is a config error.
func parseJSONKeys(data []byte) ([]pubKey, error) {
	var probe struct {
		Keys json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(data, &probe); err != nil {
		return nil, fmt.Errorf("not json: %w", err)
	}
	if probe.Keys == nil {
		k, ok, err := parseJWK(data)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, errors.New("the key is not a signature verification key")
		}
		return []pubKey{k}, nil
	}
	keys, skipped, err := parseJWKS(data)
	if err != nil {
		return nil, err
	}
	if len(skipped) > 0 {
		return nil, errors.Join(skipped...)
	}
	if len(keys) == 0 {
		return nil, errors.New("no signature verification keys")
	}
	return keys, nil
}

// parseJWKS reads a JWKS document. Keys that cannot be used are left out
// and reported in skipped (a fetched document keeps its good keys); "use":
// "enc" and symmetric keys are left out silently.
func parseJWKS(data []byte) (keys []pubKey, skipped []error, err error) {
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, nil, fmt.Errorf("jwks: %w", err)
	}
	if doc.Keys == nil {
		return nil, nil, errors.New("jwks: no keys member")
	}
	for i, raw := range doc.Keys {
		k, ok, err := parseJWK(raw)
		switch {
		case err != nil:
			skipped = append(skipped, fmt.Errorf("jwks key %d: %w", i, err))
		case ok:
			keys = append(keys, k)
		}
	}
	return keys, skipped, nil
}

// parseJWK reads one JWK with go-jose. ok is false for a key that is not
// meant for signatures: "use": "enc", or a symmetric key (HMAC secrets are
// only ever configured as Options.Secret). A private key is reduced to its
// public half.
func parseJWK(raw []byte) (pubKey, bool, error) {
	var jwk jose.JSONWebKey
	if err := json.Unmarshal(raw, &jwk); err != nil {
		return pubKey{}, false, fmt.Errorf("jwk: %w", err)
	}
	if jwk.Use == "enc" {
		return pubKey{}, false, nil
	}
	if _, sym := jwk.Key.([]byte); sym {
		return pubKey{}, false, nil
	}
	pub := jwk.Public()
	fam := keyFamily(pub.Key)
	if fam == famNone {
		return pubKey{}, false, fmt.Errorf("jwk %q: unsupported key type %T", jwk.KeyID, jwk.Key)
	}
	k := pubKey{kid: jwk.KeyID, alg: jwk.Algorithm, fam: fam, key: pub.Key}
	if k.alg != "" && !k.usableWith(k.alg) {
		return pubKey{}, false, fmt.Errorf("jwk %q: alg %q does not fit its key type", jwk.KeyID, k.alg)
	}
	return k, true, nil
}

// parsePEMKeys reads every PEM block. Private keys are refused: the proxy
// only needs, and should only hold, public keys.
func parsePEMKeys(data []byte) ([]pubKey, error) {
	var keys []pubKey
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		key, err := pemPublicKey(block)
		if err != nil {
			return nil, err
		}
		fam := keyFamily(key)
		if fam == famNone {
			return nil, fmt.Errorf("unsupported public key type %T", key)
		}
		keys = append(keys, pubKey{fam: fam, key: key})
	}
	if len(keys) == 0 {
		return nil, errors.New("no PEM public key or JSON key set found")
	}
	return keys, nil
}

// pemPublicKey decodes one PEM block's public key.
func pemPublicKey(block *pem.Block) (any, error) {
	switch block.Type {
	case "PUBLIC KEY":
		return x509.ParsePKIXPublicKey(block.Bytes)
	case "RSA PUBLIC KEY":
		return x509.ParsePKCS1PublicKey(block.Bytes)
	case "CERTIFICATE":
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, err
		}
		return cert.PublicKey, nil
	}
	if strings.Contains(block.Type, "PRIVATE KEY") {
		return nil, fmt.Errorf("PEM block %q is a private key: give the public key", block.Type)
	}
	return nil, fmt.Errorf("unsupported PEM block %q", block.Type)
}
