package cache

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisOptions configure a RedisStore. Addr is required.
type RedisOptions struct {
	Addr     string      // host:port
	Username string      // ACL user, empty for the default user
	Password string      // empty for none
	DB       int         // database number
	TLS      *tls.Config // nil for plain TCP
	// Prefix starts every Redis key, default "bouncer:cache:".
	Prefix string
	// Timeout bounds each Redis call (dial, read, write), default 500ms:
	// a slow Redis turns into misses quickly instead of slow responses.
	Timeout time.Duration
}

// RedisStore is a Store on one Redis server, shared by every Bouncer
// instance pointing at it. Each entry is one string value (MarshalBinary)
// with a TTL, so Redis itself expires entries; its maxmemory policy
// (allkeys-lru suits) bounds the total.
//
// PurgePrefix walks the keyspace with SCAN MATCH: O(keys in the
// database) per call, in batches, without blocking Redis. It suits admin
// purges, not per-request use (the cache invalidates by Delete).
type RedisStore struct {
	rdb    *redis.Client
	prefix string
}

// NewRedisStore returns a RedisStore. It does not contact Redis: a server
// that is down shows up as errors from the methods, which the cache
// counts as misses.
func NewRedisStore(o RedisOptions) (*RedisStore, error) {
	if o.Addr == "" {
		return nil, errors.New("cache: redis addr is required")
	}
	if o.Prefix == "" {
		o.Prefix = "bouncer:cache:"
	}
	if o.Timeout < 0 {
		return nil, fmt.Errorf("cache: redis timeout %v is negative", o.Timeout)
	}
	if o.Timeout == 0 {
		o.Timeout = 500 * time.Millisecond
	}
	rdb := redis.NewClient(&redis.Options{
		Addr: o.Addr, Username: o.Username, Password: o.Password, DB: o.DB, TLSConfig: o.TLS,
		DialTimeout: o.Timeout, ReadTimeout: o.Timeout, WriteTimeout: o.Timeout,
		PoolTimeout: o.Timeout, ContextTimeoutEnabled: true, MaxRetries: -1,
		DisableIdentity: true,
	})
	return &RedisStore{rdb: rdb, prefix: o.Prefix}, nil
}

// Close closes the Redis client; later calls fail.
func (s *RedisStore) Close() error {
	if err := s.rdb.Close(); err != nil {
		return fmt.Errorf("cache: redis close: %w", err)
	}
	return nil
}

// Get reads and decodes the entry at key. An entry that does not decode
// is an error wrapping ErrCorrupt.
func (s *RedisStore) Get(ctx context.Context, key string) (*Entry, error) {
	b, err := s.rdb.Get(ctx, s.prefix+key).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("cache: redis get: %w", err)
	}
	e := new(Entry)
	if err := e.UnmarshalBinary(b); err != nil {
		return nil, fmt.Errorf("cache: redis get %q: %w", key, err)
	}
	return e, nil
}

// Set writes e with a TTL of ttl rounded up to a millisecond.
func (s *RedisStore) Set(ctx context.Context, key string, e *Entry, ttl time.Duration) error {
	b, err := e.MarshalBinary()
	if err != nil {
		return fmt.Errorf("cache: redis set: %w", err)
	}
	ttl = max(ttl, time.Millisecond)
	if err := s.rdb.Set(ctx, s.prefix+key, b, ttl).Err(); err != nil {
		return fmt.Errorf("cache: redis set: %w", err)
	}
	return nil
}

// Delete removes key.
func (s *RedisStore) Delete(ctx context.Context, key string) error {
	if err := s.rdb.Unlink(ctx, s.prefix+key).Err(); err != nil {
		return fmt.Errorf("cache: redis delete: %w", err)
	}
	return nil
}

// PurgePrefix removes every key starting with prefix, scanning 500 keys
// per round trip and unlinking each batch found.
func (s *RedisStore) PurgePrefix(ctx context.Context, prefix string) (int, error) {
	match := globEscape(s.prefix+prefix) + "*"
	var cursor uint64
	n := 0
	for {
		keys, next, err := s.rdb.Scan(ctx, cursor, match, 500).Result()
		if err != nil {
			return n, fmt.Errorf("cache: redis purge: %w", err)
		}
		if len(keys) > 0 {
			removed, err := s.rdb.Unlink(ctx, keys...).Result()
			if err != nil {
				return n, fmt.Errorf("cache: redis purge: %w", err)
			}
			n += int(removed)
		}
		if next == 0 {
			return n, nil
		}
		cursor = next
	}
}

// globEscape quotes the characters SCAN MATCH treats as a pattern.
func globEscape(s string) string {
	if !strings.ContainsAny(s, `*?[]\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(`*?[]\`, s[i]) >= 0 {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

var _ Store = (*RedisStore)(nil)
