package cache

import (
	"context"
	"errors"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bouncer-proxy/bouncer/internal/testsvc"
)

func sized(body int) *Entry {
	return &Entry{Status: 200, Header: http.Header{}, Body: make([]byte, body)}
}

func TestMemoryStoreLRUBound(t *testing.T) {
	ctx := context.Background()
	one := sized(1000).Size() + 2 // key "k0".."k9"
	s := NewMemoryStore(3 * one)
	for i := range 3 {
		_ = s.Set(ctx, "k"+strconv.Itoa(i), sized(1000), time.Minute)
	}
	if e, _ := s.Get(ctx, "k0"); e == nil { // k0 becomes most recent
		t.Fatal("k0 missing")
	}
	_ = s.Set(ctx, "k3", sized(1000), time.Minute) // evicts k1, the least recent
	for key, want := range map[string]bool{"k0": true, "k1": false, "k2": true, "k3": true} {
		if e, _ := s.Get(ctx, key); (e != nil) != want {
			t.Errorf("%s present = %v, want %v", key, e != nil, want)
		}
	}
	if s.Bytes() > 3*one || s.Len() != 3 {
		t.Errorf("bytes %d (bound %d), len %d", s.Bytes(), 3*one, s.Len())
	}
	_ = s.Set(ctx, "huge", sized(int(4*one)), time.Minute)
	if e, _ := s.Get(ctx, "huge"); e != nil || s.Len() != 3 {
		t.Error("an entry larger than the bound was stored or evicted others")
	}
	_ = s.Set(ctx, "k0", sized(10), time.Minute) // replace shrinks the total
	if s.Bytes() != 2*one+sized(10).Size()+2 {
		t.Errorf("bytes after replace %d", s.Bytes())
	}
}

func TestMemoryStoreExpiryAndPurge(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	s := NewMemoryStore(0)
	s.now = clk.Now
	_ = s.Set(ctx, "a/1", sized(1), time.Second)
	_ = s.Set(ctx, "a/2", sized(1), time.Hour)
	_ = s.Set(ctx, "b/1", sized(1), time.Hour)
	clk.Advance(2 * time.Second)
	if e, _ := s.Get(ctx, "a/1"); e != nil {
		t.Error("expired entry returned")
	}
	if n, _ := s.PurgePrefix(ctx, "a/"); n != 1 {
		t.Errorf("purged %d, want 1", n)
	}
	_ = s.Delete(ctx, "b/1")
	if s.Len() != 0 || s.Bytes() != 0 {
		t.Errorf("len %d bytes %d after removing all", s.Len(), s.Bytes())
	}
}

func TestEntryRoundTrip(t *testing.T) {
	now := time.Unix(1900000000, 123456789)
	in := &Entry{
		Status: 203, Header: http.Header{"Etag": {`"x"`}, "X-Multi": {"a", "b"}, "Empty": {""}},
		Body: []byte("body"), RequestTime: now, ResponseTime: now.Add(time.Millisecond),
		Vary: []string{"Accept"}, Variants: "id", Until: now.Add(time.Hour),
	}
	b, err := in.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	out := new(Entry)
	if err := out.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if out.Status != in.Status || !reflect.DeepEqual(out.Header, in.Header) || string(out.Body) != "body" ||
		!out.RequestTime.Equal(in.RequestTime) || !out.ResponseTime.Equal(in.ResponseTime) ||
		!out.Until.Equal(in.Until) || !reflect.DeepEqual(out.Vary, in.Vary) || out.Variants != "id" {
		t.Fatalf("round trip changed the entry: %+v", out)
	}
	for i := range b { // every truncation fails cleanly
		if err := new(Entry).UnmarshalBinary(b[:i]); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("truncated at %d: %v", i, err)
		}
	}
	if err := new(Entry).UnmarshalBinary(append(b, 0)); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("trailing byte: %v", err)
	}
}

func TestRedisStore(t *testing.T) {
	rd := testsvc.StartRedis(t)
	s, err := NewRedisStore(RedisOptions{Addr: rd.Addr, Prefix: "t:"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	h := newHarness(t, Options{}, s, varyOrigin("Accept"))
	base := h.front.URL
	for _, p := range []string{"/a/1", "/a/2*", "/b"} {
		if resp, _ := h.do(http.MethodGet, p, nil); !strings.Contains(resp.Header.Get("Cache-Status"), "stored") {
			t.Fatalf("%s: %s", p, resp.Header.Get("Cache-Status"))
		}
		if resp, body := h.do(http.MethodGet, p, nil); !strings.Contains(resp.Header.Get("Cache-Status"), "hit") || body == "" {
			t.Fatalf("%s from redis: %s", p, resp.Header.Get("Cache-Status"))
		}
	}
	ttl, err := s.rdb.TTL(t.Context(), "t:"+base+"/b").Result()
	if err != nil || ttl <= 0 || ttl > 11*time.Minute+time.Second {
		t.Errorf("marker ttl %v, %v; want freshness 60s + keep-stale", ttl, err)
	}
	n, err := h.cache.PurgePrefix(t.Context(), base+"/a/")
	if err != nil || n != 4 {
		t.Fatalf("purge prefix: %d, %v; want 4", n, err)
	}
	if err := h.cache.Purge(t.Context(), base+"/b"); err != nil {
		t.Fatal(err)
	}
	if resp, _ := h.do(http.MethodGet, "/b", nil); !strings.Contains(resp.Header.Get("Cache-Status"), "uri-miss") {
		t.Errorf("after purge: %s", resp.Header.Get("Cache-Status"))
	}
	_ = s.rdb.Set(t.Context(), "t:junk", "not an entry", 0).Err()
	if _, err := s.Get(t.Context(), "junk"); !errors.Is(err, ErrCorrupt) {
		t.Errorf("junk value: %v", err)
	}
}

func TestRedisDownIsAMiss(t *testing.T) {
	rd := testsvc.StartRedis(t)
	s, err := NewRedisStore(RedisOptions{Addr: rd.Addr, Timeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	h := newHarness(t, Options{}, s, serveBody(200, "Cache-Control", "max-age=60"))
	h.do(http.MethodGet, "/r", nil)
	rd.Stop()
	for i := range 3 {
		resp, body := h.do(http.MethodGet, "/r", nil)
		if resp.StatusCode != 200 || body != "v"+strconv.Itoa(i+2) {
			t.Fatalf("with redis down: %d %q", resp.StatusCode, body)
		}
	}
	if st := h.cache.Stats(); st.StoreErrors < 3 || st.Misses != 4 {
		t.Errorf("stats %+v: want store errors counted and every request a miss", st)
	}
}

func TestGlobEscape(t *testing.T) {
	if got := globEscape(`a*b?[c]\d`); got != `a\*b\?\[c\]\\d` {
		t.Errorf("globEscape = %q", got)
	}
}
