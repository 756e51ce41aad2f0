package traffic

import (
	"errors"
	"fmt"
	"net/http"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"

	"github.com/bouncer-proxy/bouncer/l7"
)

// buildVersions validates opts and compiles them.
func buildVersions(o VersionOptions, backends map[string]http.Handler) (*Versions, error) {
	src, err := parseSource(o.From)
	if err != nil {
		return nil, fmt.Errorf("versions: from: %w", err)
	}
	if o.StripPrefix && src.kind != fromPath {
		return nil, errors.New("versions: strip_prefix needs from: path")
	}
	if len(o.Versions) == 0 {
		return nil, errors.New("versions: at least one version is required")
	}
	v := &Versions{from: src, strip: o.StripPrefix, prefix: strings.TrimSuffix(o.PathPrefix, "/"), reject: o.RejectAfterSunset, byName: map[string]*version{}}
	names := make([]string, 0, len(o.Versions))
	for i, av := range o.Versions {
		if _, dup := v.byName[av.Name]; dup {
			return nil, fmt.Errorf("versions[%d]: name %q listed twice", i, av.Name)
		}
		ver, err := compileVersion(av, src, backends)
		if err != nil {
			return nil, fmt.Errorf("versions[%d]: %w", i, err)
		}
		v.byName[av.Name] = ver
		names = append(names, av.Name)
	}
	v.known = strings.Join(names, ", ")
	if o.Default != "" {
		if v.def = v.byName[o.Default]; v.def == nil {
			return nil, fmt.Errorf("versions: default %q is not one of the versions", o.Default)
		}
	}
	if src.kind == fromHeader {
		v.vary = src.name
	}
	v.unnamed = l7.Errorf(http.StatusNotFound, l7.CodeNotFound,
		"no API version given; known versions: %s", v.known)
	return v, nil
}

// parseSource parses VersionOptions.From.
func parseSource(s string) (source, error) {
	switch {
	case s == "" || s == "path":
		return source{kind: fromPath}, nil
	case strings.HasPrefix(s, "header:"):
		name := s[len("header:"):]
		if !validToken(name) {
			return source{}, fmt.Errorf("invalid header name %q", name)
		}
		return source{kind: fromHeader, name: textproto.CanonicalMIMEHeaderKey(name)}, nil
	case strings.HasPrefix(s, "query:"):
		name := s[len("query:"):]
		if name == "" {
			return source{}, errors.New("query parameter name is empty")
		}
		return source{kind: fromQuery, name: name}, nil
	}
	return source{}, fmt.Errorf("unknown source %q (want path, header:NAME or query:NAME)", s)
}

// compileVersion checks one version and precomputes its headers.
func compileVersion(av APIVersion, src source, backends map[string]http.Handler) (*version, error) {
	if av.Name == "" || strings.TrimSpace(av.Name) != av.Name || hasCTL(av.Name) {
		return nil, fmt.Errorf("invalid name %q", av.Name)
	}
	if src.kind == fromPath && strings.Contains(av.Name, "/") {
		return nil, fmt.Errorf("name %q: a path version cannot hold a slash", av.Name)
	}
	h := backends[av.Backend]
	if h == nil {
		return nil, fmt.Errorf("unknown backend %q", av.Backend)
	}
	ver := &version{name: av.Name, h: h, sunset: av.Sunset}
	if !av.Deprecated.IsZero() {
		ver.set = append(ver.set, [2]string{"Deprecation", "@" + strconv.FormatInt(av.Deprecated.Unix(), 10)})
	}
	if !av.Sunset.IsZero() {
		if !av.Deprecated.IsZero() && av.Sunset.Before(av.Deprecated) {
			return nil, errors.New("sunset is before deprecated")
		}
		date := av.Sunset.UTC().Format(http.TimeFormat)
		ver.set = append(ver.set, [2]string{"Sunset", date})
		ver.goneMsg = fmt.Sprintf("API version %q was retired on %s", av.Name, date)
	}
	if av.DeprecationLink != "" {
		if av.Deprecated.IsZero() {
			return nil, errors.New("deprecation_link needs deprecated")
		}
		if err := checkLink(av.DeprecationLink); err != nil {
			return nil, fmt.Errorf("deprecation_link: %w", err)
		}
		ver.links = append(ver.links, "<"+av.DeprecationLink+`>; rel="deprecation"`)
	}
	if av.SunsetLink != "" {
		if err := checkLink(av.SunsetLink); err != nil {
			return nil, fmt.Errorf("sunset_link: %w", err)
		}
		ver.links = append(ver.links, "<"+av.SunsetLink+`>; rel="sunset"`)
	}
	return ver, nil
}

// checkLink accepts a URI reference that fits in a Link header's <...>
// (RFC 8288 §3): it parses, and holds no space, angle bracket, quote or
// control character.
func checkLink(s string) error {
	if strings.ContainsAny(s, " <>\"") || hasCTL(s) {
		return fmt.Errorf("%q cannot appear in a Link header", s)
	}
	if _, err := url.Parse(s); err != nil {
		return err
	}
	return nil
}

// hasCTL reports an ASCII control character.
func hasCTL(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return true
		}
	}
	return false
}
