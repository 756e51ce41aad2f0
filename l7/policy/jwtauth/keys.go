package jwtauth

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"

	"github.com/golang-jwt/jwt/v5"
)

// family is the kind of key an algorithm needs. An algorithm only ever
// verifies with a key of its family, so an RSA key never checks an ES256
// signature and a public key is never an HMAC secret.
type family uint8

const (
	famNone family = iota
	famRSA
	famP256
	famP384
	famP521
	famEd25519
	famHMAC
)

// algFamily maps every algorithm name the package knows to its key family.
var algFamily = map[string]family{
	"RS256": famRSA, "RS384": famRSA, "RS512": famRSA,
	"PS256": famRSA, "PS384": famRSA, "PS512": famRSA,
	"ES256": famP256, "ES384": famP384, "ES512": famP521,
	"EdDSA": famEd25519,
	"HS256": famHMAC, "HS384": famHMAC, "HS512": famHMAC,
}

// asymmetricAlgs lists the public-key algorithms in a stable order.
var asymmetricAlgs = []string{
	"RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
	"ES256", "ES384", "ES512", "EdDSA",
}

// hmacMinLen is the shortest secret each HS algorithm accepts (RFC 7518
// §3.2: at least the hash output size).
var hmacMinLen = map[string]int{"HS256": 32, "HS384": 48, "HS512": 64}

// pubKey is one verification key with what restricts its use.
type pubKey struct {
	kid string
	alg string // the JWK "alg": when set, the only algorithm it verifies
	fam family
	key jwt.VerificationKey
}

// usableWith says whether k may verify a signature made with alg.
func (k pubKey) usableWith(alg string) bool {
	return algFamily[alg] == k.fam && (k.alg == "" || k.alg == alg)
}

// keyFamily classifies a public key; famNone for anything the package does
// not verify with.
func keyFamily(key any) family {
	switch k := key.(type) {
	case *rsa.PublicKey:
		return famRSA
	case ed25519.PublicKey:
		return famEd25519
	case *ecdsa.PublicKey:
		switch k.Curve.Params().Name {
		case "P-256":
			return famP256
		case "P-384":
			return famP384
		case "P-521":
			return famP521
		}
	}
	return famNone
}

// kidAlg keys the by-kid lookup table.
type kidAlg struct{ kid, alg string }

// keyIndex is an immutable lookup table of verification keys, built once per
// key file set or JWKS fetch. Each value is what a jwt.Keyfunc returns: one
// key, or a jwt.VerificationKeySet when several fit, prepared so a lookup is
// a map read and no allocation.
type keyIndex struct {
	byKID   map[kidAlg]any      // kid and alg → keys with that kid
	kids    map[string]struct{} // every kid, to tell unknown from unfit
	anyKey  map[string]any      // alg → every key of the alg's family
	kidless map[string]any      // alg → keys without a kid
	algs    map[string]struct{} // algorithms some key verifies
	size    int
}

// newKeyIndex indexes keys for every algorithm each can verify.
func newKeyIndex(keys []pubKey) *keyIndex {
	byKID := map[kidAlg][]jwt.VerificationKey{}
	anyKey := map[string][]jwt.VerificationKey{}
	kidless := map[string][]jwt.VerificationKey{}
	idx := &keyIndex{kids: map[string]struct{}{}, algs: map[string]struct{}{}, size: len(keys)}
	for _, k := range keys {
		if k.kid != "" {
			idx.kids[k.kid] = struct{}{}
		}
		for _, alg := range asymmetricAlgs {
			if !k.usableWith(alg) {
				continue
			}
			idx.algs[alg] = struct{}{}
			anyKey[alg] = append(anyKey[alg], k.key)
			if k.kid == "" {
				kidless[alg] = append(kidless[alg], k.key)
			} else {
				byKID[kidAlg{k.kid, alg}] = append(byKID[kidAlg{k.kid, alg}], k.key)
			}
		}
	}
	idx.byKID = prepare(byKID)
	idx.anyKey = prepare(anyKey)
	idx.kidless = prepare(kidless)
	return idx
}

// prepare turns key lists into Keyfunc results.
func prepare[K comparable](m map[K][]jwt.VerificationKey) map[K]any {
	out := make(map[K]any, len(m))
	for k, keys := range m {
		if len(keys) == 1 {
			out[k] = keys[0]
			continue
		}
		out[k] = jwt.VerificationKeySet{Keys: keys}
	}
	return out
}

// lookupResult says how a lookup went.
type lookupResult uint8

const (
	found      lookupResult = iota
	unknownKID              // no key has this kid (or, without kid, no key fits the alg)
	unfitKID                // keys have this kid but none verifies alg
)

// lookup finds the keys for a token's kid and alg. A nil index (keys never
// loaded) knows no kid.
func (x *keyIndex) lookup(kid, alg string) (any, lookupResult) {
	if x == nil {
		return nil, unknownKID
	}
	if kid == "" {
		if k, ok := x.anyKey[alg]; ok {
			return k, found
		}
		return nil, unknownKID
	}
	if k, ok := x.byKID[kidAlg{kid, alg}]; ok {
		return k, found
	}
	if _, ok := x.kids[kid]; ok {
		return nil, unfitKID
	}
	return nil, unknownKID
}

// kidlessFor returns the keys without a kid that verify alg, for a token
// whose kid no key carries (PEM keys have none).
func (x *keyIndex) kidlessFor(alg string) (any, bool) {
	if x == nil {
		return nil, false
	}
	k, ok := x.kidless[alg]
	return k, ok
}
