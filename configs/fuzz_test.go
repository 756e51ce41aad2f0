package configs

import (
	"errors"
	"testing"
)

// FuzzParse feeds arbitrary bytes to the config parser: it must never
// panic, and every rejection must be a located Errors list.
func FuzzParse(f *testing.F) {
	f.Add([]byte(goodBase))
	f.Add(Default)
	f.Add([]byte("listeners: [{name: a, address: \"127.0.0.1:0\", limits: {max_header_bytes: 1MiB}}]\n"))
	f.Add([]byte("upstreams: {a: {endpoints: [{address: \"h:1\", weight: 2}], balance: maglev, hash_on: {cookie: s}}}\n"))
	f.Add([]byte("routes: [{match: {template: \"/a/{b}/**\"}, redirect: {status: 308, scheme: https}}]\n"))
	f.Add([]byte("a: &x [1]\nb: *x\n"))
	f.Add([]byte("upstreams: {a: &u {endpoints: [\"h:1\"]}, b: {<<: *u}, ~: *u}\n---\nlog: {}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse(data, "fuzz.yaml")
		if err == nil {
			if cfg == nil {
				t.Fatal("nil config without error")
			}
			return
		}
		var es Errors
		if !errors.As(err, &es) || len(es) == 0 {
			t.Fatalf("error is not a non-empty Errors: %T %v", err, err)
		}
	})
}
