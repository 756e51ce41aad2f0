package mtls

import (
	"encoding/pem"
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// HeaderXFCC carries the verified client identity to upstreams. Bouncer
// removes any the client sent before setting its own.
const HeaderXFCC = "X-Forwarded-Client-Cert"

// Field names of XFCC, as Envoy spells them.
const (
	FieldBy      = "By"      // the URI SAN of Bouncer's own certificate (Identity.By)
	FieldHash    = "Hash"    // hex SHA-256 of the client certificate's DER
	FieldCert    = "Cert"    // URL-encoded PEM of the client certificate
	FieldChain   = "Chain"   // URL-encoded PEM of the presented chain, leaf first
	FieldSubject = "Subject" // the subject, always double-quoted
	FieldURI     = "URI"     // one pair per URI SAN
	FieldDNS     = "DNS"     // one pair per DNS SAN
)

// ErrXFCC is wrapped by every ParseXFCC error.
var ErrXFCC = errors.New("mtls: malformed x-forwarded-client-cert")

// ValidateXFCCFields checks a list of field names at config load.
func ValidateXFCCFields(fields []string) error {
	for _, f := range fields {
		switch f {
		case FieldBy, FieldHash, FieldCert, FieldChain, FieldSubject, FieldURI, FieldDNS:
		default:
			return fmt.Errorf("mtls: unknown x-forwarded-client-cert field %q", f)
		}
	}
	return nil
}

// XFCC renders one element of the x-forwarded-client-cert header for id:
// Key=value pairs joined by ';', in the order of fields. A value holding
// ',', ';', '=', '"', '\' or white space is double-quoted with '"' and '\'
// escaped by a backslash; Subject is always quoted, as Envoy does; control
// characters become U+FFFD. URI and DNS give one pair per SAN; fields with
// no value (By unset, no SANs) and unknown names are left out. Several elements (one per proxy) are joined by ','.
func (id *Identity) XFCC(fields []string) string {
	var b strings.Builder
	for _, f := range fields {
		switch f {
		case FieldBy:
			appendNonEmpty(&b, f, id.By, false)
		case FieldHash:
			appendNonEmpty(&b, f, id.FingerprintSHA256, false)
		case FieldCert:
			if len(id.Chain) > 0 {
				appendPair(&b, f, pemEscape(id.Chain[:1]), false)
			}
		case FieldChain:
			appendNonEmpty(&b, f, pemEscape(id.Chain), false)
		case FieldSubject:
			appendNonEmpty(&b, f, id.Subject, true)
		case FieldURI:
			for _, u := range id.URIs {
				appendNonEmpty(&b, f, u, false)
			}
		case FieldDNS:
			for _, d := range id.DNSNames {
				appendNonEmpty(&b, f, d, false)
			}
		}
	}
	return b.String()
}

// appendNonEmpty is appendPair for a value that is not "".
func appendNonEmpty(b *strings.Builder, key, value string, quote bool) {
	if value != "" {
		appendPair(b, key, value, quote)
	}
}

// pemEscape is the URL-encoded PEM of the DER certificates.
func pemEscape(ders [][]byte) string {
	var p []byte
	for _, d := range ders {
		p = append(p, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: d})...)
	}
	return url.QueryEscape(string(p))
}

// appendPair writes key=value, preceded by ';' unless it is the first
// pair. Values with a separator, a quote, a backslash or white space are
// quoted (always when quote is set); control characters, which a header
// cannot carry, become U+FFFD.
func appendPair(b *strings.Builder, key, value string, quote bool) {
	if b.Len() > 0 {
		b.WriteByte(';')
	}
	b.WriteString(key)
	b.WriteByte('=')
	quote = quote || strings.ContainsAny(value, ",;=\"\\ \t")
	if quote {
		b.WriteByte('"')
	}
	for i := 0; i < len(value); i++ {
		switch c := value[i]; {
		case isCTL(c):
			b.WriteRune('\uFFFD')
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	if quote {
		b.WriteByte('"')
	}
}

// isCTL reports whether c is a control character other than tab
// (RFC 9110, section 5.5).
func isCTL(c byte) bool {
	return c < 0x20 && c != '\t' || c == 0x7f
}
