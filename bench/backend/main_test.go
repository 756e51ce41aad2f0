package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestHandler(t *testing.T) {
	srv := httptest.NewServer(newHandler())
	defer srv.Close()
	tests := []struct {
		path   string
		status int
		size   int
		cc     string // Cache-Control
	}{
		{"/64", http.StatusOK, 64, ""},
		{"/4k", http.StatusOK, 4096, ""},
		{"/cache/64", http.StatusOK, 64, cacheControl},
		{"/cache/4k", http.StatusOK, 4096, cacheControl},
		{"/nope", http.StatusNotFound, -1, ""},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			resp, err := http.Get(srv.URL + tc.path)
			if err != nil {
				t.Fatalf("get: %v", err)
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
			}
			if tc.size >= 0 && len(body) != tc.size {
				t.Fatalf("body %d bytes, want %d", len(body), tc.size)
			}
			if tc.size >= 0 && resp.ContentLength != int64(tc.size) {
				t.Fatalf("content-length %d, want %d", resp.ContentLength, tc.size)
			}
			if got := resp.Header.Get("Cache-Control"); tc.status == http.StatusOK && got != tc.cc {
				t.Fatalf("cache-control %q, want %q", got, tc.cc)
			}
		})
	}
}
