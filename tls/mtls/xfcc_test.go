package mtls

import (
	"encoding/pem"
	"errors"
	"maps"
	"net/url"
	"slices"
	"strings"
	"testing"
)

func TestXFCCFormat(t *testing.T) {
	id := &Identity{
		Subject:           `CN=a "quoted" \ name,O=Example\, Inc.`,
		URIs:              []string{"spiffe://example.org/w", "https://x.example/p?a=b;c"},
		DNSNames:          []string{"a.example", "b.example"},
		FingerprintSHA256: "ab01",
		By:                "spiffe://example.org/bouncer",
	}
	tests := []struct {
		name   string
		id     *Identity
		fields []string
		want   string
	}{
		{"hash only", id, []string{"Hash"}, "Hash=ab01"},
		{"subject always quoted", &Identity{Subject: "CN=plain"}, []string{"Subject"}, `Subject="CN=plain"`},
		{"subject escapes quote and backslash", id, []string{"Subject"},
			`Subject="CN=a \"quoted\" \\ name,O=Example\\, Inc."`},
		{"one pair per SAN, quoted when needed", id, []string{"URI", "DNS"},
			`URI=spiffe://example.org/w;URI="https://x.example/p?a=b;c";DNS=a.example;DNS=b.example`},
		{"field order kept", id, []string{"DNS", "By", "Hash"},
			"DNS=a.example;DNS=b.example;By=spiffe://example.org/bouncer;Hash=ab01"},
		{"empty fields left out", &Identity{FingerprintSHA256: "ff"}, []string{"By", "Subject", "URI", "DNS", "Hash", "Chain"}, "Hash=ff"},
		{"unknown field ignored", id, []string{"Nope", "Hash"}, "Hash=ab01"},
		{"white space quoted", &Identity{DNSNames: []string{"a b"}}, []string{"DNS"}, `DNS="a b"`},
		{"control characters replaced", &Identity{Subject: "CN=a\r\nb"}, []string{"Subject"}, "Subject=\"CN=a\uFFFD\uFFFDb\""},
		{"no fields", id, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.id.XFCC(tt.fields); got != tt.want {
				t.Errorf("XFCC =\n %s\nwant\n %s", got, tt.want)
			}
		})
	}
}

func TestXFCCCertAndChain(t *testing.T) {
	ca := newClientCA(t, t.TempDir(), "xfcc")
	leaf := ca.issue(t, leafSpec{cn: "c"})
	id := FromCert(leaf.Leaf)
	id.Chain = [][]byte{leaf.Certificate[0], ca.cert.Raw}
	elems, err := ParseXFCC(id.XFCC([]string{"Cert", "Chain"}))
	if err != nil || len(elems) != 1 {
		t.Fatalf("ParseXFCC: %v, %v", elems, err)
	}
	for field, want := range map[string][][]byte{"Cert": id.Chain[:1], "Chain": id.Chain} {
		decoded, err := url.QueryUnescape(elems[0][field])
		if err != nil {
			t.Fatal(err)
		}
		var got [][]byte
		rest := []byte(decoded)
		for b, r := pem.Decode(rest); b != nil; b, r = pem.Decode(r) {
			got = append(got, b.Bytes)
		}
		if !slices.EqualFunc(got, want, func(a, b []byte) bool { return string(a) == string(b) }) {
			t.Errorf("%s holds %d certificates, not the expected %d", field, len(got), len(want))
		}
	}
}

func TestParseXFCC(t *testing.T) {
	tests := []struct {
		in   string
		want []map[string]string
	}{
		{"", nil},
		{"  ", nil},
		{"Hash=ab", []map[string]string{{"Hash": "ab"}}},
		{`By=spiffe://b/x;Hash=01;Subject="CN=Test Client,O=Ex";URI=spiffe://a/y`, []map[string]string{
			{"By": "spiffe://b/x", "Hash": "01", "Subject": "CN=Test Client,O=Ex", "URI": "spiffe://a/y"}}},
		{`Hash=01,Hash=02;DNS=a`, []map[string]string{{"Hash": "01"}, {"Hash": "02", "DNS": "a"}}},
		{"Hash=01 ,\tHash=02 ", []map[string]string{{"Hash": "01"}, {"Hash": "02"}}},
		{`Subject="a\"b\\c";DNS=x`, []map[string]string{{"Subject": `a"b\c`, "DNS": "x"}}},
		{`Subject="x" , DNS=y`, []map[string]string{{"Subject": "x"}, {"DNS": "y"}}},
		{"DNS=a;DNS=b;URI=u", []map[string]string{{"DNS": "a,b", "URI": "u"}}},
		{`Hash=;By=""`, []map[string]string{{"Hash": "", "By": ""}}},
		{`Key=a\b`, []map[string]string{{"Key": `a\b`}}},
	}
	for _, tt := range tests {
		got, err := ParseXFCC(tt.in)
		if err != nil {
			t.Errorf("ParseXFCC(%q): %v", tt.in, err)
			continue
		}
		if !slices.EqualFunc(got, tt.want, maps.Equal) {
			t.Errorf("ParseXFCC(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestParseXFCCErrors(t *testing.T) {
	for _, in := range []string{
		"Hash", "=x", "Hash=a,", ",Hash=a", "Hash=a,,DNS=b", "Hash=a;", "Hash=a;;DNS=b",
		`Subject="open`, `Subject="a"b`, `Subject="a\`, `Hash=a"b`, "Hash=a=b",
		"Ha sh=a", "Hash=a\nb", "Subject=\"a\x00\"", `Ke"y=a`,
	} {
		if got, err := ParseXFCC(in); !errors.Is(err, ErrXFCC) {
			t.Errorf("ParseXFCC(%q) = %v, %v; want an ErrXFCC error", in, got, err)
		}
	}
}

func TestValidateXFCCFields(t *testing.T) {
	if err := ValidateXFCCFields([]string{"By", "Hash", "Cert", "Chain", "Subject", "URI", "DNS"}); err != nil {
		t.Error(err)
	}
	if err := ValidateXFCCFields([]string{"Hash", "hash"}); err == nil || !strings.Contains(err.Error(), `"hash"`) {
		t.Errorf("lowercase field: %v", err)
	}
}

// TestXFCCRoundTrip renders identities and parses them back.
func TestXFCCRoundTrip(t *testing.T) {
	ca := newClientCA(t, t.TempDir(), "rt")
	cert := ca.issue(t, leafSpec{cn: `odd; "name", here=\`, org: "Ex",
		uris: []string{"spiffe://example.org/w", "urn:a,b;c=d"}, dns: []string{"a.example"}})
	id := FromCert(cert.Leaf)
	id.By = "spiffe://example.org/bouncer"
	all := []string{"By", "Hash", "Subject", "URI", "DNS", "Cert", "Chain"}
	elems, err := ParseXFCC(id.XFCC(all) + ", " + id.XFCC([]string{"Hash"}))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"By": id.By, "Hash": id.FingerprintSHA256, "Subject": id.Subject,
		"URI": strings.Join(id.URIs, ","), "DNS": "a.example",
		"Cert": pemEscape(id.Chain[:1]), "Chain": pemEscape(id.Chain),
	}
	if len(elems) != 2 || !maps.Equal(elems[0], want) || elems[1]["Hash"] != id.FingerprintSHA256 {
		t.Errorf("round trip = %v\nwant %v", elems, want)
	}
}

// formatXFCC renders parsed elements again, keys sorted, every value
// through appendPair.
func formatXFCC(elems []map[string]string) string {
	var out []string
	for _, m := range elems {
		var b strings.Builder
		for _, k := range slices.Sorted(maps.Keys(m)) {
			appendPair(&b, k, m[k], false)
		}
		out = append(out, b.String())
	}
	return strings.Join(out, ",")
}

// FuzzParseXFCC: parsing never panics, and whatever parses renders to a
// header that parses to the same elements.
func FuzzParseXFCC(f *testing.F) {
	f.Add(`By=spiffe://b/x;Hash=01;Subject="CN=a, \"b\"";URI=u;DNS=d1;DNS=d2,Hash=02`)
	f.Fuzz(func(t *testing.T, s string) {
		elems, err := ParseXFCC(s)
		if err != nil {
			return
		}
		again, err := ParseXFCC(formatXFCC(elems))
		if err != nil {
			t.Fatalf("rendered %q does not parse: %v", formatXFCC(elems), err)
		}
		if !slices.EqualFunc(again, elems, maps.Equal) {
			t.Fatalf("%q -> %v -> %v", s, elems, again)
		}
	})
}

// FuzzXFCCRoundTrip: any identity without control characters survives
// XFCC then ParseXFCC.
func FuzzXFCCRoundTrip(f *testing.F) {
	f.Add(`CN=a "b",O=c\, d`, "spiffe://example.org/w?x=;", "a b")
	f.Fuzz(func(t *testing.T, subject, uri, dns string) {
		if strings.ContainsFunc(subject+uri+dns, func(r rune) bool { return r < 0x20 && r != '\t' || r == 0x7f }) {
			return
		}
		id := &Identity{Subject: subject, URIs: []string{uri}, DNSNames: []string{dns}}
		elems, err := ParseXFCC(id.XFCC([]string{"Subject", "URI", "DNS"}))
		if err != nil {
			t.Fatalf("%q: %v", id.XFCC([]string{"Subject", "URI", "DNS"}), err)
		}
		want := map[string]string{}
		for k, v := range map[string]string{"Subject": subject, "URI": uri, "DNS": dns} {
			if v != "" {
				want[k] = v
			}
		}
		if len(want) == 0 {
			return
		}
		if len(elems) != 1 || !maps.Equal(elems[0], want) {
			t.Fatalf("got %v, want %v", elems, want)
		}
	})
}

// TestParseXFCCRepeatedKeys: many repeats of a key stay linear (a quadratic
// join would take seconds here).
func TestParseXFCCRepeatedKeys(t *testing.T) {
	const n = 200000
	elems, err := ParseXFCC(strings.Repeat("DNS=a;", n-1) + "DNS=a")
	if err != nil {
		t.Fatal(err)
	}
	if got := len(elems[0]["DNS"]); got != 2*n-1 {
		t.Errorf("joined value has %d bytes, want %d", got, 2*n-1)
	}
}
