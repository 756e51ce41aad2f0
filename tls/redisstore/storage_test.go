package redisstore

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/bouncer-proxy/bouncer/internal/testsvc"
)

// newStore returns a Storage on addr, closed when the test ends.
func newStore(t testing.TB, addr string, o Options) *Storage {
	t.Helper()
	o.Addr = addr
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// fixture stores the same small tree in a fresh Redis for each test.
func fixture(t *testing.T) (*Storage, *testsvc.Redis) {
	t.Helper()
	r := testsvc.StartRedis(t)
	s := newStore(t, r.Addr, Options{})
	for _, k := range []string{"a/b/c.crt", "a/b/d.key", "a/e", "ab/x", "top"} {
		if err := s.Store(t.Context(), k, []byte("v:"+k)); err != nil {
			t.Fatal(err)
		}
	}
	return s, r
}

func TestNewValidates(t *testing.T) {
	for _, o := range []Options{{}, {Addr: "127.0.0.1:1", LockTTL: time.Millisecond}} {
		if _, err := New(o); err == nil {
			t.Errorf("New(%+v) accepted", o)
		}
	}
}

func TestLoadStatExists(t *testing.T) {
	s, _ := fixture(t)
	ctx := t.Context()
	before := time.Now()
	if err := s.Store(ctx, "a/e", []byte("newer value")); err != nil {
		t.Fatal(err)
	}
	after := time.Now()
	for _, tc := range []struct {
		key      string
		want     string // Load result, "" for an error
		wantErr  error
		terminal bool
		dir      bool
	}{
		{key: "a/b/c.crt", want: "v:a/b/c.crt", terminal: true},
		{key: "a/e", want: "newer value", terminal: true},
		{key: "/a/e/", want: "newer value", terminal: true},
		{key: "a/b", wantErr: fs.ErrNotExist, dir: true},
		{key: "a", wantErr: fs.ErrNotExist, dir: true},
		{key: "a/b/c", wantErr: fs.ErrNotExist},
		{key: "missing", wantErr: fs.ErrNotExist},
		{key: "a//e", wantErr: ErrInvalidKey},
		{key: "a/../e", wantErr: ErrInvalidKey},
	} {
		t.Run(tc.key, func(t *testing.T) {
			v, err := s.Load(ctx, tc.key)
			if string(v) != tc.want || !errors.Is(err, tc.wantErr) {
				t.Errorf("Load = %q, %v; want %q, %v", v, err, tc.want, tc.wantErr)
			}
			info, err := s.Stat(ctx, tc.key)
			exists := tc.terminal || tc.dir
			switch {
			case !exists && !errors.Is(err, tc.wantErr):
				t.Errorf("Stat error = %v, want %v", err, tc.wantErr)
			case exists && err != nil:
				t.Errorf("Stat: %v", err)
			case exists && (info.IsTerminal != tc.terminal || info.Size != int64(len(tc.want))):
				t.Errorf("Stat = %+v, want terminal %v size %d", info, tc.terminal, len(tc.want))
			}
			if tc.key == "a/e" && (info.Modified.Before(before) || info.Modified.After(after)) {
				t.Errorf("Modified %v not within [%v, %v]", info.Modified, before, after)
			}
			if got := s.Exists(ctx, tc.key); got != exists {
				t.Errorf("Exists = %v, want %v", got, exists)
			}
		})
	}
}

func TestList(t *testing.T) {
	s, _ := fixture(t)
	for _, tc := range []struct {
		prefix    string
		recursive bool
		want      []string
		wantErr   error
	}{
		{prefix: "a", want: []string{"a/b", "a/e"}},
		{prefix: "a", recursive: true, want: []string{"a/b", "a/b/c.crt", "a/b/d.key", "a/e"}},
		{prefix: "a/b/", want: []string{"a/b/c.crt", "a/b/d.key"}},
		{prefix: "", want: []string{"a", "ab", "top"}},
		{prefix: "", recursive: true, want: []string{"a", "a/b", "a/b/c.crt", "a/b/d.key", "a/e", "ab", "ab/x", "top"}},
		{prefix: "top"},
		{prefix: "top", recursive: true},
		{prefix: "missing", wantErr: fs.ErrNotExist},
		{prefix: "a/b/c", recursive: true, wantErr: fs.ErrNotExist},
	} {
		t.Run(tc.prefix, func(t *testing.T) {
			got, err := s.List(t.Context(), tc.prefix, tc.recursive)
			if !errors.Is(err, tc.wantErr) || !slices.Equal(got, tc.want) {
				t.Errorf("List(%q, %v) = %q, %v; want %q, %v", tc.prefix, tc.recursive, got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestDelete(t *testing.T) {
	for _, tc := range []struct {
		name    string
		del     []string
		gone    []string // keys that must not exist afterwards
		kept    []string // keys that must still load
		root    []string // List("", false) afterwards
		wantErr error
	}{
		{name: "file", del: []string{"a/b/c.crt"}, gone: []string{"a/b/c.crt"},
			kept: []string{"a/b/d.key", "a/e"}, root: []string{"a", "ab", "top"}},
		{name: "prefix", del: []string{"a"}, gone: []string{"a", "a/b", "a/b/c.crt", "a/b/d.key", "a/e"},
			kept: []string{"ab/x", "top"}, root: []string{"ab", "top"}},
		{name: "last files prune dirs", del: []string{"a/b/c.crt", "a/b/d.key"}, gone: []string{"a/b"},
			kept: []string{"a/e"}, root: []string{"a", "ab", "top"}},
		{name: "missing", del: []string{"nope/x", "a/b/zz", "a/b/c.crt", "a/b/c.crt"},
			kept: []string{"a/b/d.key"}, root: []string{"a", "ab", "top"}},
		{name: "everything", del: []string{"a", "ab", "top"}, gone: []string{"a", "ab", "top", ""}},
		{name: "root refused", del: []string{"/"}, kept: []string{"top"}, root: []string{"a", "ab", "top"},
			wantErr: ErrInvalidKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := fixture(t)
			ctx := t.Context()
			for _, k := range tc.del {
				if err := s.Delete(ctx, k); !errors.Is(err, tc.wantErr) {
					t.Fatalf("Delete(%q) = %v, want %v", k, err, tc.wantErr)
				}
			}
			for _, k := range tc.gone {
				if s.Exists(ctx, k) {
					t.Errorf("%q still exists", k)
				}
			}
			for _, k := range tc.kept {
				if _, err := s.Load(ctx, k); err != nil {
					t.Errorf("Load(%q): %v", k, err)
				}
			}
			if got, _ := s.List(ctx, "", false); !slices.Equal(got, tc.root) {
				t.Errorf("root lists %q, want %q", got, tc.root)
			}
			if len(tc.root) == 0 {
				// the index is pruned fully: not one Redis key is left behind
				if n := s.rdb.DBSize(ctx).Val(); n != 0 {
					t.Errorf("%d Redis keys left: %q", n, s.rdb.Keys(ctx, "*").Val())
				}
			}
		})
	}
}

func TestFileAndDirectory(t *testing.T) {
	s, _ := fixture(t)
	ctx := t.Context()
	if err := s.Store(ctx, "top/under", []byte("x")); err != nil {
		t.Fatal(err)
	}
	info, err := s.Stat(ctx, "top")
	if err != nil || !info.IsTerminal {
		t.Errorf("Stat(top) = %+v, %v; want the file", info, err)
	}
	if got, _ := s.List(ctx, "top", false); !slices.Equal(got, []string{"top/under"}) {
		t.Errorf("List(top) = %q", got)
	}
	if err := s.Delete(ctx, "top"); err != nil {
		t.Fatal(err)
	}
	if s.Exists(ctx, "top") || s.Exists(ctx, "top/under") {
		t.Error("Delete(top) left the file or its child")
	}
}

func TestRedisDownFailsFast(t *testing.T) {
	r := testsvc.StartRedis(t)
	s := newStore(t, r.Addr, Options{LockTTL: 300 * time.Millisecond, LockPoll: 10 * time.Millisecond})
	ctx := t.Context()
	if err := s.Lock(ctx, "held"); err != nil {
		t.Fatal(err)
	}
	r.Stop()
	for _, tc := range []struct {
		op   string
		call func() error
	}{
		{"store", func() error { return s.Store(ctx, "k", []byte("v")) }},
		{"load", func() error { _, err := s.Load(ctx, "k"); return err }},
		{"delete", func() error { return s.Delete(ctx, "k") }},
		{"list", func() error { _, err := s.List(ctx, "k", true); return err }},
		{"stat", func() error { _, err := s.Stat(ctx, "k"); return err }},
		{"lock", func() error { return s.Lock(ctx, "other") }},
		{"unlock", func() error { return s.Unlock(ctx, "held") }},
	} {
		t.Run(tc.op, func(t *testing.T) {
			start := time.Now()
			err := tc.call()
			if err == nil || !bytes.Contains([]byte(err.Error()), []byte("redisstore: "+tc.op)) {
				t.Errorf("error = %v, want one naming %q", err, tc.op)
			}
			if errors.Is(err, fs.ErrNotExist) {
				t.Errorf("a Redis failure reads as a missing key: %v", err)
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("took %v", d)
			}
		})
	}
	if s.Exists(ctx, "k") {
		t.Error("Exists is true with Redis down")
	}
}

func TestLeaseLostWhenRedisDies(t *testing.T) {
	r := testsvc.StartRedis(t)
	s := newStore(t, r.Addr, Options{LockTTL: 300 * time.Millisecond})
	if err := s.Lock(t.Context(), "x"); err != nil {
		t.Fatal(err)
	}
	lost := s.Lost("x")
	r.Stop()
	select {
	case <-lost:
	case <-time.After(5 * time.Second):
		t.Fatal("lease not declared lost with Redis down")
	}
	if _, ok := s.Fence("x"); ok || s.LeasesLost() != 1 {
		t.Errorf("Fence ok=%v LeasesLost=%d after loss", ok, s.LeasesLost())
	}
}

func BenchmarkStoreLoad4K(b *testing.B) {
	r := testsvc.StartRedis(b)
	s := newStore(b, r.Addr, Options{})
	ctx := context.Background()
	v := bytes.Repeat([]byte("x"), 4096)
	b.SetBytes(int64(len(v)))
	for b.Loop() {
		if err := s.Store(ctx, "certificates/acme/example.com/example.com.crt", v); err != nil {
			b.Fatal(err)
		}
		if _, err := s.Load(ctx, "certificates/acme/example.com/example.com.crt"); err != nil {
			b.Fatal(err)
		}
	}
}

// A server that accepts but never answers holds no call past its context.
func TestSilentServerBoundedByContext(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	var held []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range held {
			_ = c.Close()
		}
	})
	s := newStore(t, ln.Addr().String(), Options{})
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := s.Store(ctx, "k", []byte("v")); err == nil {
		t.Fatal("Store to a silent server succeeded")
	}
	if d := time.Since(start); d > 1500*time.Millisecond {
		t.Errorf("Store took %v with a 200ms context", d)
	}
}
