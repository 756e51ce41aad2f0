package cache

import (
	"net/http"
	"testing"
	"time"
)

// FuzzDirectives: any Cache-Control, Pragma and Expires values parse
// without panicking, and the freshness they give is never negative.
func FuzzDirectives(f *testing.F) {
	for _, s := range []string{`max-age=60, s-maxage=10`, `no-cache="set-cookie", private`, `max-stale`, `max-age="30"`,
		`stale-while-revalidate=5,stale-if-error=99999999999999999999`, `,,=,;max-age=-1`} {
		f.Add(s, "no-cache", "Thu, 01 Dec 1994 16:00:00 GMT")
	}
	f.Fuzz(func(t *testing.T, cc, pragma, expires string) {
		h := http.Header{"Cache-Control": {cc}, "Pragma": {pragma}, "Expires": {expires}, "Date": {"Sat, 28 Nov 2026 00:00:00 GMT"}}
		d := parseDirectives(h)
		_ = requestDirectives(h)
		if life, ok := explicitLifetime(h, &d, time.Unix(1_800_000_000, 0)); ok && life < 0 {
			t.Fatalf("negative lifetime %v from %q / %q", life, cc, expires)
		}
	})
}

// FuzzEntry: a stored entry read back from a store that returned garbage
// is an error, never a panic.
func FuzzEntry(f *testing.F) {
	e := &Entry{Status: 200, Header: http.Header{"Etag": {`"x"`}}, Body: []byte("hello"), RequestTime: time.Unix(1, 0), ResponseTime: time.Unix(2, 0)}
	good, err := e.MarshalBinary()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte{})
	f.Add(good[:len(good)/2])
	f.Fuzz(func(t *testing.T, b []byte) {
		var e Entry
		_ = e.UnmarshalBinary(b)
	})
}
