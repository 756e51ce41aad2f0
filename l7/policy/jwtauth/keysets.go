package jwtauth

import (
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"
)

// KeySets holds the remote JWKS documents of every Verifier, keyed by URL,
// so that keys survive config reloads: the process makes one at start,
// passes it to every New, and closes it at exit. The first Verifier that
// names a URL starts its background fetcher; the fetcher stops when the
// last Verifier naming the URL is closed, or when the KeySets is.
// Safe for concurrent use.
type KeySets struct {
	client *http.Client
	log    *slog.Logger
	now    func() time.Time // time.Now; tests swap it before the first acquire

	mu     sync.Mutex
	sets   map[string]*remoteSet
	closed bool
}

// NewKeySets makes a registry that fetches with client (a plain
// *http.Client when nil; each fetch is bounded by the Verifier's
// FetchTimeout whatever the client's own timeout) and logs failed fetches
// and skipped keys to logger (discarded when nil).
func NewKeySets(client *http.Client, logger *slog.Logger) *KeySets {
	if client == nil {
		client = &http.Client{}
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &KeySets{client: client, log: logger, now: time.Now, sets: map[string]*remoteSet{}}
}

// Close stops every background fetcher and waits for them to exit. Keys
// already fetched stay readable; no fetch happens after Close.
func (k *KeySets) Close() {
	k.mu.Lock()
	k.closed = true
	sets := k.sets
	k.sets = map[string]*remoteSet{}
	k.mu.Unlock()
	for _, rs := range sets {
		rs.stop()
	}
}

// acquire returns the set for url, starting its fetcher when it is new,
// and takes a reference that release gives back. The latest caller's
// timings apply to a shared set.
func (k *KeySets) acquire(url string, t timings) (*remoteSet, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return nil, errors.New("key sets closed")
	}
	rs := k.sets[url]
	if rs == nil {
		rs = newRemoteSet(url, k.client, k.log, k.now)
		k.sets[url] = rs
		rs.timings.Store(&t)
		rs.start()
	} else {
		rs.timings.Store(&t)
	}
	rs.refs++
	return rs, nil
}

// release gives back a reference from acquire; the last one stops the set.
func (k *KeySets) release(rs *remoteSet) {
	k.mu.Lock()
	rs.refs--
	last := rs.refs == 0 && k.sets[rs.url] == rs
	if last {
		delete(k.sets, rs.url)
	}
	k.mu.Unlock()
	if last {
		rs.stop()
	}
}

// timings are a remote set's fetch bounds and intervals.
type timings struct {
	fetchTimeout time.Duration
	refresh      time.Duration
	minRefresh   time.Duration
}
