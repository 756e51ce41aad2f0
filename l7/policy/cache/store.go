package cache

import (
	"container/list"
	"context"
	"strings"
	"sync"
	"time"
)

// Store keeps entries by key. Implementations are safe for concurrent
// use. A Store error never fails a request: the cache counts it, logs it
// and carries on as if the entry were absent.
type Store interface {
	// Get returns the entry at key, or nil and no error when there is
	// none. The returned entry must not be modified.
	Get(ctx context.Context, key string) (*Entry, error)
	// Set stores e at key for at most ttl (the store may drop it sooner).
	// e is not modified afterwards by anyone.
	Set(ctx context.Context, key string, e *Entry, ttl time.Duration) error
	// Delete removes key; a missing key is not an error.
	Delete(ctx context.Context, key string) error
	// PurgePrefix removes every key starting with prefix and returns how
	// many it removed.
	PurgePrefix(ctx context.Context, prefix string) (int, error)
}

// MemoryStore is a Store in process memory: least recently used entries
// are evicted first when the total Entry.Size of the entries passes the
// bound. Expired entries read as absent and are dropped when met. One
// mutex guards it; Get holds it only to look up and move the entry.
type MemoryStore struct {
	mu       sync.Mutex
	maxBytes int64
	used     int64
	lru      *list.List // of *memItem, most recent first
	items    map[string]*list.Element
	now      func() time.Time
}

type memItem struct {
	key     string
	entry   *Entry
	size    int64
	expires time.Time
}

// NewMemoryStore returns a MemoryStore holding at most maxBytes (a bound
// of 0 or less means 64 MiB).
func NewMemoryStore(maxBytes int64) *MemoryStore {
	if maxBytes <= 0 {
		maxBytes = 64 << 20
	}
	return &MemoryStore{
		maxBytes: maxBytes,
		lru:      list.New(),
		items:    make(map[string]*list.Element),
		now:      time.Now,
	}
}

// Get returns the entry at key and marks it recently used.
func (s *MemoryStore) Get(_ context.Context, key string) (*Entry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	el, ok := s.items[key]
	if !ok {
		return nil, nil
	}
	it := el.Value.(*memItem)
	if s.now().After(it.expires) {
		s.remove(el)
		return nil, nil
	}
	s.lru.MoveToFront(el)
	return it.entry, nil
}

// Set stores e, evicting least recently used entries to make room. An
// entry larger than the whole bound is not stored.
func (s *MemoryStore) Set(_ context.Context, key string, e *Entry, ttl time.Duration) error {
	size := e.Size() + int64(len(key))
	if size > s.maxBytes {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if el, ok := s.items[key]; ok {
		s.remove(el)
	}
	for s.used+size > s.maxBytes {
		s.remove(s.lru.Back())
	}
	it := &memItem{key: key, entry: e, size: size, expires: s.now().Add(ttl)}
	s.items[key] = s.lru.PushFront(it)
	s.used += size
	return nil
}

// Delete removes key.
func (s *MemoryStore) Delete(_ context.Context, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if el, ok := s.items[key]; ok {
		s.remove(el)
	}
	return nil
}

// PurgePrefix removes every key with prefix; it walks all keys under the
// lock, which is fine for an admin call.
func (s *MemoryStore) PurgePrefix(_ context.Context, prefix string) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for k, el := range s.items {
		if strings.HasPrefix(k, prefix) {
			s.remove(el)
			n++
		}
	}
	return n, nil
}

// Len is the number of stored entries.
func (s *MemoryStore) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.items)
}

// Bytes is the total size of the stored entries.
func (s *MemoryStore) Bytes() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.used
}

// remove unlinks el; s.mu is held.
func (s *MemoryStore) remove(el *list.Element) {
	it := s.lru.Remove(el).(*memItem)
	delete(s.items, it.key)
	s.used -= it.size
}

var _ Store = (*MemoryStore)(nil)
