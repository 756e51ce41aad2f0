package redisstore

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyserver/certmagic"
	"github.com/redis/go-redis/v9"
)

// Options configure a Storage. Addr is required; the rest have defaults.
type Options struct {
	Addr     string      // host:port of the Redis server
	Username string      // ACL user, empty for the default user
	Password string      // empty for none
	DB       int         // database number
	TLS      *tls.Config // nil for plain TCP

	Prefix   string        // prefix of every Redis key, default "bouncer:certmagic:"
	LockTTL  time.Duration // lease length, default 60s; renewed every LockTTL/3 while held
	LockPoll time.Duration // how often a waiting Lock retries, default 1s
	Logger   *slog.Logger  // default slog.Default()
}

// Timeouts bounding every Redis call, whatever the caller's context says.
const (
	dialTimeout = 2 * time.Second
	ioTimeout   = 2 * time.Second
)

// minLockTTL keeps renewal (every LockTTL/3) meaningful.
const minLockTTL = 30 * time.Millisecond

// Errors callers can test with errors.Is.
var (
	// ErrLockLost: the lock's lease expired or was taken by another holder.
	ErrLockLost = errors.New("redisstore: lock lost")
	// ErrNotHeld: Unlock or RenewLockLease named a lock this Storage does not
	// hold. (Store under WithLock reports ErrLockLost for a lock not held.)
	ErrNotHeld = errors.New("redisstore: lock not held")
	// ErrInvalidKey: a key is empty or has an empty, "." or ".." component.
	ErrInvalidKey = errors.New("redisstore: invalid key")
)

// Storage is a certmagic.Storage on one Redis server. It is safe for
// concurrent use; every method honours its context and is further bounded
// by a 2 s dial and read/write timeout, so none hangs when Redis is down.
type Storage struct {
	rdb  *redis.Client
	opts Options
	log  *slog.Logger

	mu     sync.Mutex
	leases map[string]*lease // locks held by this Storage, by name
	closed bool
	wg     sync.WaitGroup // renewal goroutines
	lost   atomic.Uint64
}

// New checks o, fills in defaults and returns a Storage. It does not
// contact Redis: a server that is down shows up as errors from the methods.
func New(o Options) (*Storage, error) {
	if o.Addr == "" {
		return nil, errors.New("redisstore: addr is required")
	}
	if o.Prefix == "" {
		o.Prefix = "bouncer:certmagic:"
	}
	if o.LockTTL == 0 {
		o.LockTTL = 60 * time.Second
	}
	if o.LockTTL < minLockTTL {
		return nil, fmt.Errorf("redisstore: lock ttl %v is below %v", o.LockTTL, minLockTTL)
	}
	if o.LockPoll <= 0 {
		o.LockPoll = time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	rdb := redis.NewClient(&redis.Options{
		Addr: o.Addr, Username: o.Username, Password: o.Password, DB: o.DB, TLSConfig: o.TLS,
		DialTimeout: dialTimeout, ReadTimeout: ioTimeout, WriteTimeout: ioTimeout,
		PoolTimeout: ioTimeout, ContextTimeoutEnabled: true, MaxRetries: 1,
		DialerRetries: 2, DialerRetryTimeout: 50 * time.Millisecond, DisableIdentity: true,
	})
	return &Storage{
		rdb: rdb, opts: o, leases: map[string]*lease{},
		log: o.Logger.With("component", "redisstore"),
	}, nil
}

// Close stops lease renewal, releases the locks still held (best effort,
// each bounded by the I/O timeout) and closes the Redis client. Methods
// called after Close fail. Close is safe to call more than once.
func (s *Storage) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	held := s.leases
	s.leases = map[string]*lease{}
	s.mu.Unlock()
	for name, l := range held {
		l.halt()
		s.release(name, l)
	}
	s.wg.Wait()
	if err := s.rdb.Close(); err != nil {
		return fmt.Errorf("redisstore: close: %w", err)
	}
	return nil
}

// String names the store in certmagic's logs.
func (s *Storage) String() string { return "redisstore:" + s.opts.Addr + "/" + s.opts.Prefix }

// Store puts value at key, creating or replacing it. Under a context from
// WithLock it writes only if that lock is still held, else ErrLockLost.
func (s *Storage) Store(ctx context.Context, key string, value []byte) error {
	key, err := cleanKey(key)
	if err != nil {
		return fmt.Errorf("redisstore: store %q: %w", key, err)
	}
	keys := []string{s.fileKey(key), s.fileKey(key)}
	args := []any{value, time.Now().UnixNano(), ""}
	if name, ok := ctx.Value(lockCtxKey{}).(string); ok {
		l := s.held(name)
		if l == nil || l.isLost() {
			return fmt.Errorf("redisstore: store %q under lock %q: %w", key, name, ErrLockLost)
		}
		keys[1], args[2] = s.lockKey(name), l.value
	}
	for dir, name := parent(key); ; dir, name = parent(dir) {
		keys, args = append(keys, s.dirKey(dir)), append(args, name)
		if dir == "" {
			break
		}
	}
	n, err := storeScript.Run(ctx, s.rdb, keys, args...).Int()
	if err != nil {
		return fmt.Errorf("redisstore: store %q: %w", key, err)
	}
	if n == 0 {
		return fmt.Errorf("redisstore: store %q: %w", key, ErrLockLost)
	}
	return nil
}

// Load returns the value at key, or an error wrapping fs.ErrNotExist.
func (s *Storage) Load(ctx context.Context, key string) ([]byte, error) {
	key, err := cleanKey(key)
	if err != nil {
		return nil, fmt.Errorf("redisstore: load %q: %w", key, err)
	}
	v, err := s.rdb.HGet(ctx, s.fileKey(key), "v").Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("redisstore: load %q: %w", key, fs.ErrNotExist)
	}
	if err != nil {
		return nil, fmt.Errorf("redisstore: load %q: %w", key, err)
	}
	return v, nil
}

// Delete removes key and, if it is a directory, everything under it, in one
// atomic step. A missing key is not an error. The empty key (the whole
// store) is refused with ErrInvalidKey.
func (s *Storage) Delete(ctx context.Context, key string) error {
	key, err := cleanKey(key)
	if err != nil {
		return fmt.Errorf("redisstore: delete %q: %w", key, err)
	}
	if err := deleteScript.Run(ctx, s.rdb, nil, s.opts.Prefix, key).Err(); err != nil {
		return fmt.Errorf("redisstore: delete %q: %w", key, err)
	}
	return nil
}

// Exists reports whether key is a file or a non-empty directory. The empty
// key is the root. Errors (Redis down) report false and are logged.
func (s *Storage) Exists(ctx context.Context, key string) bool {
	key = strings.Trim(key, "/")
	n, err := s.rdb.Exists(ctx, s.fileKey(key), s.dirKey(key)).Result()
	if err != nil {
		s.log.Warn("exists failed", "key", key, "error", err)
		return false
	}
	return n > 0
}

// Stat describes key: a file (IsTerminal, with Size and Modified) or a
// directory (Modified and Size zero). A missing key wraps fs.ErrNotExist.
func (s *Storage) Stat(ctx context.Context, key string) (certmagic.KeyInfo, error) {
	key, err := cleanKey(key)
	if err != nil {
		return certmagic.KeyInfo{}, fmt.Errorf("redisstore: stat %q: %w", key, err)
	}
	var mod *redis.StringCmd
	var size, dir *redis.IntCmd
	_, err = s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		mod = p.HGet(ctx, s.fileKey(key), "m")
		size = p.HStrLen(ctx, s.fileKey(key), "v")
		dir = p.Exists(ctx, s.dirKey(key))
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return certmagic.KeyInfo{}, fmt.Errorf("redisstore: stat %q: %w", key, err)
	}
	if ns, err := mod.Int64(); err == nil {
		return certmagic.KeyInfo{Key: key, Modified: time.Unix(0, ns), Size: size.Val(), IsTerminal: true}, nil
	}
	if dir.Val() > 0 {
		return certmagic.KeyInfo{Key: key}, nil
	}
	return certmagic.KeyInfo{}, fmt.Errorf("redisstore: stat %q: %w", key, fs.ErrNotExist)
}

func (s *Storage) fileKey(key string) string { return s.opts.Prefix + "f:" + key }
func (s *Storage) dirKey(dir string) string  { return s.opts.Prefix + "d:" + dir }
func (s *Storage) lockKey(name string) string {
	return s.opts.Prefix + "l:" + name
}
func (s *Storage) fenceKey() string { return s.opts.Prefix + "fence" }

// cleanKey trims surrounding slashes and rejects keys certmagic never
// produces: empty ones and those with empty, "." or ".." components.
func cleanKey(key string) (string, error) {
	key = strings.Trim(key, "/")
	if key == "" {
		return key, ErrInvalidKey
	}
	for c := range strings.SplitSeq(key, "/") {
		if c == "" || c == "." || c == ".." {
			return key, ErrInvalidKey
		}
	}
	return key, nil
}

// parent splits key into its directory ("" for the root) and last name.
func parent(key string) (dir, name string) {
	i := strings.LastIndexByte(key, '/')
	if i < 0 {
		return "", key
	}
	return key[:i], key[i+1:]
}

// joinKey is the key of child name under dir.
func joinKey(dir, name string) string {
	if dir == "" {
		return name
	}
	return dir + "/" + name
}

// ms formats a duration as whole milliseconds, at least 1, for PX/PEXPIRE.
func ms(d time.Duration) string {
	return strconv.FormatInt(max(d.Milliseconds(), 1), 10)
}

var (
	_ certmagic.Storage          = (*Storage)(nil)
	_ certmagic.TryLocker        = (*Storage)(nil)
	_ certmagic.LockLeaseRenewer = (*Storage)(nil)
)
