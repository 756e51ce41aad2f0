package jwtauth

import (
	"fmt"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/bouncer-proxy/bouncer/l7"
)

func TestTokenCache(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	c := newTokenCache(16, time.Minute)
	id := &l7.Identity{Method: "jwt", Subject: "alice"}
	c.put("short", jwt.MapClaims{"exp": float64(now.Add(10 * time.Second).Unix())}, id, now)
	c.put("long", jwt.MapClaims{"exp": float64(now.Add(time.Hour).Unix())}, id, now)
	c.put("gone", jwt.MapClaims{"exp": float64(now.Add(-time.Second).Unix())}, id, now)
	if got, ok := c.get("short", now.Add(9*time.Second)); !ok || got != id {
		t.Fatal("a token is not served from the cache before its exp")
	}
	if _, ok := c.get("short", now.Add(10*time.Second)); ok {
		t.Fatal("a token is served from the cache at its exp")
	}
	if _, ok := c.get("long", now.Add(59*time.Second)); !ok {
		t.Fatal("a token is not served from the cache within the ttl")
	}
	if _, ok := c.get("long", now.Add(time.Minute)); ok {
		t.Fatal("a token is served from the cache past the ttl")
	}
	if _, ok := c.get("gone", now); ok {
		t.Fatal("an expired token was cached")
	}
	for i := range 100 {
		c.put(fmt.Sprint(i), jwt.MapClaims{}, id, now)
		if n := len(c.m); n > 16 {
			t.Fatalf("cache holds %d entries; bound is 16", n)
		}
	}
	if newTokenCache(0, time.Minute) != nil || newTokenCache(10, 0) != nil {
		t.Fatal("a zero size or ttl must disable the cache")
	}
	var off *tokenCache
	off.put("x", jwt.MapClaims{}, id, now)
	if _, ok := off.get("x", now); ok {
		t.Fatal("a disabled cache served a token")
	}
}
