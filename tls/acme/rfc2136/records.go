package rfc2136

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/libdns/libdns"
	"github.com/miekg/dns"
)

// toRR turns a libdns record (name relative to zone, unescaped data) into
// a DNS RR. TXT data is split into strings of at most 255 bytes (RFC 1035
// section 3.3.14); other types are read in zone file syntax.
func toRR(r libdns.RR, zone string) (dns.RR, error) {
	if r.Name == "" {
		return nil, fmt.Errorf("rfc2136: a %s record without a name", r.Type)
	}
	name := dns.Fqdn(libdns.AbsoluteName(r.Name, zone))
	if _, ok := dns.IsDomainName(name); !ok {
		return nil, fmt.Errorf("rfc2136: record name %q is not a domain name", name)
	}
	ttl := uint32(r.TTL / time.Second)
	if strings.EqualFold(r.Type, "TXT") {
		return &dns.TXT{
			Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: ttl},
			Txt: splitTXT(r.Data),
		}, nil
	}
	if _, ok := dns.StringToType[strings.ToUpper(r.Type)]; !ok || r.Data == "" {
		return nil, fmt.Errorf("rfc2136: record %s: type %q with data %q is not supported", name, r.Type, r.Data)
	}
	rr, err := dns.NewRR(fmt.Sprintf("%s %d IN %s %s", name, ttl, strings.ToUpper(r.Type), r.Data))
	if err != nil || rr == nil {
		return nil, fmt.Errorf("rfc2136: record %s %s %q: %w", name, r.Type, r.Data, err)
	}
	return rr, nil
}

// fromRR is the inverse of toRR: the typed libdns record for rr, its name
// relative to zone.
func fromRR(rr dns.RR, zone string) libdns.Record {
	h := rr.Header()
	out := libdns.RR{
		Name: libdns.RelativeName(dns.CanonicalName(h.Name), dns.CanonicalName(zone)),
		TTL:  time.Duration(h.Ttl) * time.Second,
		Type: dns.TypeToString[h.Rrtype],
		Data: rdata(rr),
	}
	if typed, err := out.Parse(); err == nil {
		return typed
	}
	return out
}

// rdata is rr's data unescaped (TXT) or in zone file syntax (others).
func rdata(rr dns.RR) string {
	if t, ok := rr.(*dns.TXT); ok {
		var b strings.Builder
		for _, s := range t.Txt {
			b.WriteString(unescape(s))
		}
		return b.String()
	}
	return strings.TrimPrefix(rr.String(), rr.Header().String())
}

// matches reports whether the zone's rr is the record want describes:
// same name, and same type, TTL and data where want sets them.
func matches(want libdns.RR, rr dns.RR, zone string) bool {
	h := rr.Header()
	if want.Type != "" && !strings.EqualFold(want.Type, dns.TypeToString[h.Rrtype]) {
		return false
	}
	if want.TTL != 0 && uint32(want.TTL/time.Second) != h.Ttl {
		return false
	}
	if want.Data == "" {
		return true
	}
	if want.Type != "" && h.Rrtype != dns.TypeTXT { // TXT strings may be escaped differently
		if w, err := toRR(want, zone); err == nil {
			return dns.IsDuplicate(w, rr) // compares rdata in wire form
		}
	}
	return rdata(rr) == want.Data
}

func containsRR(rrs []dns.RR, rr dns.RR) bool {
	for _, r := range rrs {
		if dns.IsDuplicate(r, rr) {
			return true
		}
	}
	return false
}

// splitTXT cuts data into character-strings of at most 255 bytes and
// escapes the backslashes in each, since the DNS library reads TXT
// strings in zone file syntax (\" , \\ and \DDD escapes).
func splitTXT(data string) []string {
	var out []string
	for len(data) > 255 {
		out = append(out, escapeTXT(data[:255]))
		data = data[255:]
	}
	return append(out, escapeTXT(data))
}

func escapeTXT(s string) string { return strings.ReplaceAll(s, `\`, `\\`) }

// unescape reverses the zone file escapes (\X and \DDD) the DNS library
// writes into the TXT strings it decodes.
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		if i+3 < len(s) && isDigits(s[i+1:i+4]) {
			n, _ := strconv.Atoi(s[i+1 : i+4])
			b.WriteByte(byte(n))
			i += 3
			continue
		}
		b.WriteByte(s[i+1])
		i++
	}
	return b.String()
}

func isDigits(s string) bool {
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
