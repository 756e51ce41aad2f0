package mtls

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"net/url"
	"strings"
	"time"
)

// Identity is what Bouncer knows of a client from its verified
// certificate. It is built once per connection and only read after.
type Identity struct {
	Subject           string    // RFC 2253 form, e.g. "CN=client,O=Example"
	URIs              []string  // URI SANs, in certificate order
	DNSNames          []string  // DNS SANs
	Emails            []string  // email (rfc822Name) SANs
	IPs               []string  // IP address SANs, in net.IP.String form
	SPIFFEID          string    // the single valid spiffe:// URI SAN, or ""
	FingerprintSHA256 string    // lowercase hex SHA-256 of the leaf's DER
	Serial            string    // lowercase hex serial number
	NotAfter          time.Time // end of the leaf's validity
	Issuer            string    // the issuer's name, RFC 2253 form

	// By is the URI SAN of Bouncer's own certificate on the connection,
	// set by the caller when it wants the By field of XFCC; "" omits it.
	By string
	// Chain holds the DER certificates the client presented, leaf first;
	// XFCC's Cert and Chain fields come from it.
	Chain [][]byte
}

// FromState returns the identity of the verified client certificate of a
// connection. It reads only VerifiedChains: a certificate the client sent
// but that was not verified (tls.RequestClientCert) gives no identity, nor
// does a nil state.
func FromState(st *tls.ConnectionState) (*Identity, bool) {
	if !Verified(st) {
		return nil, false
	}
	id := FromCert(st.VerifiedChains[0][0])
	id.Chain = make([][]byte, 0, len(st.PeerCertificates))
	for _, c := range st.PeerCertificates {
		id.Chain = append(id.Chain, c.Raw)
	}
	return id, true
}

// FromCert returns the identity of a certificate the caller has already
// verified; Chain holds only the certificate itself.
func FromCert(c *x509.Certificate) *Identity {
	sum := sha256.Sum256(c.Raw)
	id := &Identity{
		Subject:           c.Subject.String(),
		DNSNames:          c.DNSNames,
		Emails:            c.EmailAddresses,
		FingerprintSHA256: hex.EncodeToString(sum[:]),
		Serial:            c.SerialNumber.Text(16),
		NotAfter:          c.NotAfter,
		Issuer:            c.Issuer.String(),
		Chain:             [][]byte{c.Raw},
	}
	for _, u := range c.URIs {
		id.URIs = append(id.URIs, u.String())
	}
	for _, ip := range c.IPAddresses {
		id.IPs = append(id.IPs, ip.String())
	}
	id.SPIFFEID = spiffeID(c.URIs)
	return id
}

// spiffeID returns the SPIFFE ID among a certificate's URI SANs: exactly
// one of them must have the spiffe scheme, and it must be valid. Go has
// already lowercased the scheme, so "SPIFFE://" is accepted as "spiffe://".
func spiffeID(uris []*url.URL) string {
	var found *url.URL
	for _, u := range uris {
		if u.Scheme != "spiffe" {
			continue
		}
		if found != nil {
			return "" // two SPIFFE IDs name no one
		}
		found = u
	}
	if found == nil {
		return ""
	}
	s := found.String()
	if !ValidSPIFFEID(s) {
		return ""
	}
	return s
}

// maxSPIFFEID is the longest SPIFFE ID, in bytes (SPIFFE ID spec, 2.3).
const maxSPIFFEID = 2048

// ValidSPIFFEID reports whether s is a workload SPIFFE ID:
// spiffe://trust-domain/path with a lowercase trust domain of letters,
// digits, '.', '-' and '_'; a path of one or more non-empty segments of
// letters, digits, '.', '-' and '_', none of them "." or ".."; no port,
// user info, query or fragment (SPIFFE ID spec, section 2).
func ValidSPIFFEID(s string) bool {
	rest, ok := strings.CutPrefix(s, "spiffe://")
	if !ok || len(s) > maxSPIFFEID {
		return false
	}
	td, path, ok := strings.Cut(rest, "/")
	if !ok || td == "" || !allBytes(td, trustDomainByte) {
		return false
	}
	for seg := range strings.SplitSeq(path, "/") {
		if seg == "" || seg == "." || seg == ".." || !allBytes(seg, pathByte) {
			return false
		}
	}
	return true
}

// trustDomainByte reports whether b may appear in a trust domain name.
func trustDomainByte(b byte) bool {
	return b >= 'a' && b <= 'z' || b >= '0' && b <= '9' || b == '.' || b == '-' || b == '_'
}

// pathByte reports whether b may appear in a path segment.
func pathByte(b byte) bool {
	return trustDomainByte(b) || b >= 'A' && b <= 'Z'
}

// allBytes reports whether every byte of s passes ok.
func allBytes(s string, ok func(byte) bool) bool {
	for i := 0; i < len(s); i++ {
		if !ok(s[i]) {
			return false
		}
	}
	return true
}
