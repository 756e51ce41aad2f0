package compress

import (
	"fmt"
	"strings"
)

// DefaultContentTypes are the media types compressed when Options names
// none: text, and the structured formats that compress well. Already
// compressed formats (images other than SVG, video, archives, fonts in
// woff2) gain nothing. gRPC-Web (application/grpc-web-text and
// application/grpc-web) is left out on purpose: its frames carry their own
// compression flag and its trailers ride in the body, so the gRPC side
// negotiates compression, not HTTP.
var DefaultContentTypes = []string{
	"text/*",
	"application/json",
	"application/*+json",
	"application/javascript",
	"application/xml",
	"application/*+xml",
	"image/svg+xml",
}

// typeSet matches media types: exact ("application/json"), a whole type
// ("text/*") or a structured suffix within a type ("application/*+json").
type typeSet struct {
	exact    map[string]struct{}
	wildType []string    // "text/"
	suffix   [][2]string // {"application/", "+json"}
}

func compileTypes(list []string) (typeSet, error) {
	s := typeSet{exact: map[string]struct{}{}}
	for i, t := range list {
		t = strings.ToLower(strings.TrimSpace(t))
		typ, sub, ok := strings.Cut(t, "/")
		if !ok || typ == "" || sub == "" || typ == "*" || strings.ContainsAny(t, "; ") {
			return typeSet{}, fmt.Errorf("compress: content_types[%d]: %q is not a media type or pattern", i, t)
		}
		switch {
		case sub == "*":
			s.wildType = append(s.wildType, typ+"/")
		case strings.HasPrefix(sub, "*+") && len(sub) > 2:
			s.suffix = append(s.suffix, [2]string{typ + "/", sub[1:]})
		case strings.Contains(sub, "*"):
			return typeSet{}, fmt.Errorf("compress: content_types[%d]: %q: only type/* and type/*+suffix patterns are supported", i, t)
		default:
			s.exact[t] = struct{}{}
		}
	}
	return s, nil
}

// matches reports whether a Content-Type value (parameters allowed) is in
// the set. It does not allocate for lowercase values.
func (s *typeSet) matches(contentType string) bool {
	mt, _, _ := strings.Cut(contentType, ";")
	mt = strings.TrimSpace(mt)
	if mt == "" {
		return false
	}
	if hasUpper(mt) {
		mt = strings.ToLower(mt)
	}
	if _, ok := s.exact[mt]; ok {
		return true
	}
	for _, p := range s.wildType {
		if strings.HasPrefix(mt, p) {
			return true
		}
	}
	for _, p := range s.suffix {
		if strings.HasPrefix(mt, p[0]) && strings.HasSuffix(mt, p[1]) && len(mt) > len(p[0])+len(p[1]) {
			return true
		}
	}
	return false
}

func hasUpper(s string) bool {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			return true
		}
	}
	return false
}
