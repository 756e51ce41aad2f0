package credauth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/bouncer-proxy/bouncer/l7"
)

// BasicOptions configures a Basic authenticator (RFC 7617).
type BasicOptions struct {
	// Realm is sent in the challenge; default "bouncer".
	Realm string
	// Users are the accepted users, at least one.
	Users []BasicUser
	// CacheTTL is how long a successful verification is remembered, so
	// that a burst of requests with the same good credentials costs one
	// bcrypt comparison; default 1 minute, negative disables the cache.
	// Failures are never cached.
	CacheTTL time.Duration
	// MaxCacheEntries bounds the cache; default 1024.
	MaxCacheEntries int
}

// BasicUser is one accepted user.
type BasicUser struct {
	// Name is the user-id; it may not contain a colon (RFC 7617 §2).
	Name string
	// Hash is the bcrypt hash of the password, "$2a$", "$2b$" or "$2y$"
	// form, as htpasswd -B or bcrypt.GenerateFromPassword make it.
	Hash string
	// Consumer is the consumer name; default Name.
	Consumer string
	// Metadata is the consumer's metadata, shared and read-only.
	Metadata map[string]string
}

// Basic authenticates requests by HTTP Basic credentials checked against
// bcrypt hashes.
type Basic struct {
	realm  string
	users  map[string]*basicEntry
	dummy  []byte // hash compared for unknown users, so timing does not tell which exist
	ttl    time.Duration
	cache  *ttlCache[*basicEntry]
	mac    []byte // per-process key of the cache's HMAC of user and password
	now    func() time.Time
	verify func(hash, password []byte) error
}

type basicEntry struct {
	name     string
	hash     []byte
	consumer string
	metadata map[string]string
}

var _ l7.Authenticator = (*Basic)(nil)

// bcryptMaxPassword is the longest password bcrypt reads; longer ones
// would match on their first 72 bytes alone, so they are refused.
const bcryptMaxPassword = 72

// NewBasic validates opts (every hash must parse as bcrypt) and builds the
// user table. It computes one bcrypt hash, the dummy for unknown users,
// at the cost of the most expensive configured hash.
func NewBasic(opts BasicOptions) (*Basic, error) {
	if len(opts.Users) == 0 {
		return nil, errors.New("basic: at least one user is required")
	}
	b := &Basic{realm: opts.Realm, users: make(map[string]*basicEntry, len(opts.Users)),
		ttl: opts.CacheTTL, now: time.Now, verify: bcrypt.CompareHashAndPassword}
	if b.realm == "" {
		b.realm = "bouncer"
	}
	maxCost := bcrypt.MinCost
	for i, u := range opts.Users {
		cost, err := validateBasicUser(u)
		if err != nil {
			return nil, fmt.Errorf("basic: users[%d]: %w", i, err)
		}
		if _, dup := b.users[u.Name]; dup {
			return nil, fmt.Errorf("basic: users[%d]: duplicate user %q", i, u.Name)
		}
		maxCost = max(maxCost, cost)
		e := &basicEntry{name: u.Name, hash: []byte(u.Hash), consumer: u.Consumer, metadata: u.Metadata}
		if e.consumer == "" {
			e.consumer = u.Name
		}
		b.users[u.Name] = e
	}
	if err := b.initSecrets(maxCost); err != nil {
		return nil, err
	}
	if b.ttl == 0 {
		b.ttl = time.Minute
	}
	if b.ttl > 0 {
		n := opts.MaxCacheEntries
		if n <= 0 {
			n = 1024
		}
		b.cache = newTTLCache[*basicEntry](n)
	}
	return b, nil
}

// Authenticate implements l7.Authenticator. A request without an
// Authorization header of the Basic scheme has no credentials; a
// malformed one, an unknown user or a wrong password is an AuthError with
// the Basic challenge. The Identity has Method "basic", Subject the user
// name and Consumer the configured consumer.
func (b *Basic) Authenticate(r *http.Request) (*l7.Identity, error) {
	user, pass, present, ok := parseBasic(r.Header.Get("Authorization"))
	if !present {
		return nil, l7.ErrNoCredentials
	}
	if !ok {
		return nil, b.fail("malformed credentials")
	}
	var key [32]byte
	if b.cache != nil {
		key = b.cacheKey(user, pass)
		if e, hit := b.cache.get(key, b.now()); hit {
			return e.identity(), nil
		}
	}
	e, known := b.users[user]
	hash := b.dummy
	if known {
		hash = e.hash
	}
	// An unknown user still pays one comparison: timing must not reveal
	// which user names exist.
	err := b.verify(hash, []byte(pass))
	if !known || err != nil || len(pass) > bcryptMaxPassword {
		return nil, b.fail("invalid credentials")
	}
	if b.cache != nil {
		now := b.now()
		b.cache.put(key, e, now.Add(b.ttl), now)
	}
	return e.identity(), nil
}

func (e *basicEntry) identity() *l7.Identity {
	return &l7.Identity{Method: "basic", Consumer: e.consumer, Subject: e.name, Metadata: e.metadata}
}

func (b *Basic) fail(reason string) error {
	return &l7.AuthError{Scheme: "Basic", Realm: b.realm, Reason: reason}
}

// cacheKey is an HMAC of the user and password under a key made at build
// time, so the cache, even if memory were read, holds nothing an
// attacker could test password guesses against offline.
func (b *Basic) cacheKey(user, pass string) [32]byte {
	m := hmac.New(sha256.New, b.mac)
	m.Write([]byte(user))
	m.Write([]byte{0})
	m.Write([]byte(pass))
	var k [32]byte
	m.Sum(k[:0])
	return k
}

func (b *Basic) initSecrets(cost int) error {
	b.mac = make([]byte, 32)
	if _, err := rand.Read(b.mac); err != nil {
		return fmt.Errorf("basic: random key: %w", err)
	}
	pw := make([]byte, 24)
	if _, err := rand.Read(pw); err != nil {
		return fmt.Errorf("basic: random key: %w", err)
	}
	dummy, err := bcrypt.GenerateFromPassword(pw, cost)
	if err != nil {
		return fmt.Errorf("basic: dummy hash: %w", err)
	}
	b.dummy = dummy
	return nil
}

// validateBasicUser checks u and returns its hash's cost.
func validateBasicUser(u BasicUser) (int, error) {
	if u.Name == "" {
		return 0, errors.New("name is required")
	}
	if strings.ContainsAny(u.Name, ":\r\n") {
		return 0, fmt.Errorf("user %q: name may not contain a colon or line break", u.Name)
	}
	if !strings.HasPrefix(u.Hash, "$2a$") && !strings.HasPrefix(u.Hash, "$2b$") && !strings.HasPrefix(u.Hash, "$2y$") {
		return 0, fmt.Errorf("user %q: hash must be bcrypt ($2a$, $2b$ or $2y$)", u.Name)
	}
	cost, err := bcrypt.Cost([]byte(u.Hash))
	if err != nil {
		return 0, fmt.Errorf("user %q: bad bcrypt hash: %w", u.Name, err)
	}
	return cost, nil
}

// parseBasic splits an Authorization header value of the Basic scheme.
// present is false when the header is absent or names another scheme; ok
// is false when it names Basic but is not base64 of "user:password".
func parseBasic(h string) (user, pass string, present, ok bool) {
	scheme, rest, _ := strings.Cut(h, " ")
	if !strings.EqualFold(scheme, "Basic") {
		return "", "", false, false
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(rest))
	if err != nil {
		return "", "", true, false
	}
	user, pass, ok = strings.Cut(string(raw), ":")
	if !ok || user == "" {
		return "", "", true, false
	}
	return user, pass, true, true
}
