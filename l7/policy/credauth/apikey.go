package credauth

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/bouncer-proxy/bouncer/l7"
	"github.com/bouncer-proxy/bouncer/l7/policy/querycred"
)

// APIKeyOptions configures an APIKeys authenticator.
type APIKeyOptions struct {
	// Header carries the key; default "X-API-Key". It is always read.
	Header string
	// Query, when set, is a query parameter that may carry the key
	// instead (the header wins when both are present). The parameter is
	// removed from the request URL whenever it is present, so the key is
	// neither proxied upstream nor written to the access log.
	Query string
	// Realm goes into the challenge; optional.
	Realm string
	// Keys are the accepted keys, at least one. Several keys may belong
	// to the same consumer (rotation).
	Keys []APIKey
}

// APIKey is one accepted key, stored hashed so that the configuration does
// not hold usable secrets.
type APIKey struct {
	Consumer Consumer
	// Hash is "sha256:" followed by the 64 hex digits of the SHA-256 of
	// the key's bytes, as HashAPIKey returns (for example
	// `printf %s "$KEY" | sha256sum`). Hex is case-insensitive.
	Hash string
}

// HashAPIKey returns the form APIKey.Hash stores for key.
func HashAPIKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hashPrefix + hex.EncodeToString(sum[:])
}

const hashPrefix = "sha256:"

// APIKeys authenticates requests by a static API key.
//
// A presented key is hashed once with SHA-256 and the digest looked up in
// a map. The lookup's timing depends on the digest, not on the stored
// key: learning how many leading digest bytes matched a stored digest
// gives no way to build a key with that digest (SHA-256 is preimage
// resistant), and the digest alone is not a credential, since a caller
// must present a key that hashes to it. The final constant-time compare
// of the digests is belt and braces.
type APIKeys struct {
	header string
	query  string
	realm  string
	keys   map[[32]byte]*apiKeyEntry
}

type apiKeyEntry struct {
	digest   [32]byte
	consumer Consumer
}

var _ l7.Authenticator = (*APIKeys)(nil)

// NewAPIKeys validates opts and builds the key table.
func NewAPIKeys(opts APIKeyOptions) (*APIKeys, error) {
	a := &APIKeys{header: "X-API-Key", query: opts.Query, realm: opts.Realm,
		keys: make(map[[32]byte]*apiKeyEntry, len(opts.Keys))}
	if opts.Header != "" {
		if !validHeaderName(opts.Header) {
			return nil, fmt.Errorf("api key: invalid header name %q", opts.Header)
		}
		a.header = http.CanonicalHeaderKey(opts.Header)
	}
	if len(opts.Keys) == 0 {
		return nil, errors.New("api key: at least one key is required")
	}
	for i, k := range opts.Keys {
		if k.Consumer.Name == "" {
			return nil, fmt.Errorf("api key: keys[%d]: consumer name is required", i)
		}
		sum, err := parseKeyHash(k.Hash)
		if err != nil {
			return nil, fmt.Errorf("api key: keys[%d] (%s): %w", i, k.Consumer.Name, err)
		}
		if prev, dup := a.keys[sum]; dup {
			return nil, fmt.Errorf("api key: keys[%d] (%s): same key as consumer %s", i, k.Consumer.Name, prev.consumer.Name)
		}
		a.keys[sum] = &apiKeyEntry{digest: sum, consumer: k.Consumer}
	}
	return a, nil
}

// Authenticate implements l7.Authenticator. It reads the header, then the
// query parameter (removing it from r.URL), and returns an Identity with
// Method "api_key". The Identity's Metadata is the consumer's configured
// map, shared and read-only.
func (a *APIKeys) Authenticate(r *http.Request) (*l7.Identity, error) {
	key := r.Header.Get(a.header)
	if a.query != "" {
		if v, found := querycred.Take(r, a.query); found && key == "" {
			key = v
		}
	}
	if key == "" {
		return nil, l7.ErrNoCredentials
	}
	sum := sha256.Sum256([]byte(key))
	e, ok := a.keys[sum]
	if !ok || subtle.ConstantTimeCompare(sum[:], e.digest[:]) != 1 {
		return nil, &l7.AuthError{Scheme: "ApiKey", Realm: a.realm, Reason: "unknown API key"}
	}
	return &l7.Identity{Method: "api_key", Consumer: e.consumer.Name, Metadata: e.consumer.Metadata}, nil
}

// QueryParams names the query parameter the key may be read from (none
// or one), for querycred.Strip.
func (a *APIKeys) QueryParams() []string {
	if a.query == "" {
		return nil
	}
	return []string{a.query}
}

// parseKeyHash decodes "sha256:<64 hex>".
func parseKeyHash(s string) ([32]byte, error) {
	var sum [32]byte
	hexPart, ok := strings.CutPrefix(s, hashPrefix)
	if !ok {
		return sum, fmt.Errorf("hash must start with %q (see HashAPIKey)", hashPrefix)
	}
	if len(hexPart) != 2*len(sum) {
		return sum, fmt.Errorf("hash must have %d hex digits, has %d", 2*len(sum), len(hexPart))
	}
	if _, err := hex.Decode(sum[:], []byte(hexPart)); err != nil {
		return sum, fmt.Errorf("hash: %w", err)
	}
	return sum, nil
}
