package configs

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// schemaBase is a valid config that the cases below extend or break.
const schemaBase = `
listeners:
  - {name: web, address: ":8080"}
routes:
  - match: {prefix: /}
    proxy: {upstream: app}
upstreams:
  app: {endpoints: [127.0.0.1:9000]}
`

func TestSchemaRejects(t *testing.T) {
	sch := diskSchema(t)
	cases := []struct{ name, src string }{
		{"unknown top-level key", schemaBase + "listners: []\n"},
		{"unknown nested key", "listeners:\n  - {name: a, address: ':1', limits: {idle_timout: 5s}}\n"},
		{"unknown key in a map value", "upstreams:\n  a: {endpoints: ['x:1'], balancer: random}\n"},
		{"wrong enum", schemaBase + "log: {level: verbose}\n"},
		{"wrong enum in a list", "listeners:\n  - {name: a, address: ':1', protocols: [http1, h4]}\n"},
		{"numeric value outside enum", "routes:\n  - proxy: {upstream: a, retry: {retry_on: [500]}}\n"},
		{"missing required key", "listeners:\n  - {address: ':1'}\n"},
		{"two actions", "routes:\n  - {proxy: {upstream: a}, respond: {status: 204}}\n"},
		{"no action", "routes:\n  - {match: {path: /}}\n"},
		{"two path conditions", "routes:\n  - {match: {path: /a, prefix: /b}, respond: {}}\n"},
		{"value and regex", "routes:\n  - {match: {headers: [{name: a, value: b, regex: c}]}, respond: {}}\n"},
		{"two rewrites", "routes:\n  - {proxy: {upstream: a}, rewrite: {path: /a, strip_prefix: /b}}\n"},
		{"empty rewrite", "routes:\n  - {proxy: {upstream: a}, rewrite: {}}\n"},
		{"url with path", "routes:\n  - {redirect: {url: 'https://x/', path: /a}}\n"},
		{"redirect to nowhere", "routes:\n  - {redirect: {status: 301}}\n"},
		{"two hash keys", "upstreams:\n  a: {endpoints: ['x:1'], hash_on: {header: h, cookie: c}}\n"},
		{"bad duration", schemaBase + "server: {shutdown_timeout: 5 seconds}\n"},
		{"duration without unit", schemaBase + "server: {shutdown_timeout: 5}\n"},
		{"bad size", schemaBase + "server: {max_request_body_bytes: 64kb}\n"},
		{"negative integer", "upstreams:\n  a: {endpoints: ['x:1'], circuit_breaker: {max_pending: -1}}\n"},
		{"string for boolean", schemaBase + "log: {access_log: 'yes'}\n"},
		{"endpoint as a number", "upstreams:\n  a: {endpoints: [8080]}\n"},
		{"endpoint without address", "upstreams:\n  a: {endpoints: [{weight: 2}]}\n"},
		{"list for a map", schemaBase + "admin: [127.0.0.1:9901]\n"},
		{"bad status range", "upstreams:\n  a: {endpoints: ['x:1'], health_check: {expected_statuses: [2xx]}}\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := sch.Validate(yamlToJSON(t, []byte(tc.src))); err == nil {
				t.Errorf("schema accepts:\n%s", tc.src)
			}
		})
	}
}

func TestSchemaAccepts(t *testing.T) {
	sch := diskSchema(t)
	cases := []struct{ name, src string }{
		{"schemaBase", schemaBase},
		{"empty file", "{}"},
		{"endpoints in both forms", "upstreams:\n  a: {endpoints: ['x:1', {address: 'y:2', weight: 3}]}\n"},
		{"sizes as integer and text", "listeners:\n  - {name: a, address: ':1', limits: {max_header_bytes: 8192}}\n" +
			"server: {max_request_body_bytes: 1 MiB}\n"},
		{"zero duration as a number", "listeners:\n  - {name: a, address: ':1', limits: {write_timeout: 0}}\n"},
		{"numeric enum quoted or not", "routes:\n  - proxy: {upstream: a, retry: {retry_on: [502, '503', reset]}}\n"},
		{"statuses quoted or not", "upstreams:\n  a: {endpoints: ['x:1'], health_check: {expected_statuses: [200, '204', 300-399]}}\n"},
		{"header values that are numbers", "routes:\n  - {respond: {}, response_headers: {set: {X-Version: 2}, add: {X-Beta: true}}}\n"},
		{"redirect by url", "routes:\n  - {redirect: {url: 'https://x/'}}\n"},
		{"redirect by parts", "routes:\n  - {redirect: {scheme: https, host: x}}\n"},
		{"presence test", "routes:\n  - {match: {query: [{name: q, present: false}]}, respond: {}}\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := sch.Validate(yamlToJSON(t, []byte(tc.src))); err != nil {
				t.Errorf("schema rejects:\n%s\n%v", tc.src, err)
			}
		})
	}
}

// TestSchemaRejectsWhatDecoderRejects checks a few strict-decoding errors
// against both sides, so the schema does not drift looser than Decode.
func TestSchemaRejectsWhatDecoderRejects(t *testing.T) {
	sch := diskSchema(t)
	for _, src := range []string{
		schemaBase + "log: {level: verbose}\n",
		schemaBase + "sample: {enabled: 1}\n",
		"listeners:\n  - {name: a, address: ':1', limits: {max_connections: many}}\n",
		"listeners:\n  - {name: a, address: ':1', tls: {certificates: [{cert_file: c}]}}\n",
	} {
		if _, err := Decode([]byte(src), "t.yaml"); err == nil {
			t.Errorf("decoder accepts:\n%s", src)
		}
		if err := sch.Validate(yamlToJSON(t, []byte(src))); err == nil {
			t.Errorf("schema accepts:\n%s", src)
		}
	}
}

// usedKeyPaths walks a decoded YAML value alongside type t and records
// the key paths it sets.
func usedKeyPaths(t reflect.Type, v any, at string, used map[string]bool) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Slice:
		items, _ := v.([]any)
		for _, item := range items {
			usedKeyPaths(t.Elem(), item, at+"[]", used)
		}
	case reflect.Map:
		m, _ := v.(map[string]any)
		for _, e := range m {
			usedKeyPaths(t.Elem(), e, at+".<name>", used)
		}
	case reflect.Struct:
		m, _ := v.(map[string]any)
		for _, f := range docFields(t) {
			if e, ok := m[f.Key]; ok {
				p := keyPath(at, f.Key)
				used[p] = true
				usedKeyPaths(f.Type, e, p, used)
			}
		}
	}
}

func TestFullExampleUsesEveryKey(t *testing.T) {
	doc := yamlToJSON(t, mustRead(t, "examples/full.yaml"))
	used := map[string]bool{}
	usedKeyPaths(reflect.TypeFor[Config](), doc, "", used)
	for _, p := range allKeyPaths(t) {
		if !used[p] {
			t.Errorf("examples/full.yaml does not set %s", p)
		}
	}
}

// TestScalarSyntaxMatchesDecoder feeds the same duration and size texts to
// the decoder and to the schema: both must accept or both reject. The
// schema sees YAML values, not their spelling, so other spellings of an
// integer (00, 0x10) are left out: the decoder rejects them, the schema cannot.
func TestScalarSyntaxMatchesDecoder(t *testing.T) {
	sch := compileSchema(t, mustSchema(t))
	durations := []string{"0", "0s", "300ms", "1m30s", "1.5h", ".5s", "5.s", "2h45m0.5s",
		"10us", "10µs", "10μs", "100ns", "+5s", "5", "-1s", "5 s", "1d", "5S", "", "s", "1e3s"}
	sizes := []string{"0", "65536", "512B", "64KiB", "64 KiB", "1MiB", "1MB", "2GB", "3GiB",
		"1.5MiB", "64kib", "64kB", "1TB", "-1", "KiB", "", "64 KiB "}
	cases := map[string][]string{"server.shutdown_timeout": durations, "server.max_request_body_bytes": sizes}
	for key, values := range cases {
		for _, val := range values {
			for _, text := range []string{val, strconv.Quote(val)} {
				if text == "" {
					continue
				}
				src := fmt.Sprintf("server:\n  %s: %s\n", strings.TrimPrefix(key, "server."), text)
				_, decErr := Decode([]byte(src), "t.yaml")
				schErr := sch.Validate(yamlToJSON(t, []byte(src)))
				if (decErr == nil) != (schErr == nil) {
					t.Errorf("%s: %s: decoder error %v, schema error %v", key, text, decErr, schErr)
				}
			}
		}
	}
}

func mustSchema(t *testing.T) []byte {
	t.Helper()
	data, err := Schema()
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// The rules between a TLS listener's certificate keys, which Validate
// checks after decoding, are in the schema too.
func TestSchemaTLSRules(t *testing.T) {
	sch := diskSchema(t)
	for _, c := range []struct {
		src string
		ok  bool
	}{
		{"{cert_file: c, key_file: k}", true},
		{"{certificates: [{cert_file: c, key_file: k}]}", true},
		{"{cert_file: c}", false},
		{"{key_file: k, certificates: [{cert_file: c, key_file: k}]}", false},
		{"{strict_sni: true}", false},
	} {
		src := "listeners:\n  - {name: a, address: ':1', protocols: [h2], tls: " + c.src + "}\n"
		err := sch.Validate(yamlToJSON(t, []byte(src)))
		if (err == nil) != c.ok {
			t.Errorf("tls: %s: schema error %v, want ok=%v", c.src, err, c.ok)
		}
	}
}
