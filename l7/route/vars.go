package route

import (
	"net/url"
	"strings"
)

// VarsFunc returns the named variables of a path template: for
// /v1/users/{id}/files/{rest=**} and /v1/users/7/files/a/b it gives
// {id: 7, rest: a/b}. Unnamed wildcards (* and **) are skipped. The path
// is the escaped, normalized one the route table matched (URL.EscapedPath
// after the gateway, not URL.Path, in which an escaped "/" would split a
// segment in two and shift the variables after it); values are unescaped
// (a%2Fb gives a/b). The path is assumed to match the template. ok is
// false for a template with no named variables, for which no function is
// made.
func VarsFunc(tmpl string) (f func(path string) map[string]string, ok bool) {
	type v struct {
		name string
		idx  int
		rest bool
	}
	var vars []v
	for i, seg := range strings.Split(strings.TrimPrefix(tmpl, "/"), "/") {
		if len(seg) < 3 || seg[0] != '{' || seg[len(seg)-1] != '}' {
			continue
		}
		name, pat, _ := strings.Cut(seg[1:len(seg)-1], "=")
		vars = append(vars, v{name: name, idx: i, rest: pat == "**"})
	}
	if len(vars) == 0 {
		return nil, false
	}
	return func(path string) map[string]string {
		segs := strings.Split(strings.TrimPrefix(path, "/"), "/")
		out := make(map[string]string, len(vars))
		for _, x := range vars {
			switch {
			case x.idx >= len(segs):
				out[x.name] = ""
			case x.rest:
				out[x.name] = unescape(strings.Join(segs[x.idx:], "/"))
			default:
				out[x.name] = unescape(segs[x.idx])
			}
		}
		return out
	}, true
}

// unescape decodes a matched path's escapes; a normalized path has only
// valid ones, so an error leaves s as it is.
func unescape(s string) string {
	if strings.IndexByte(s, '%') < 0 {
		return s
	}
	if u, err := url.PathUnescape(s); err == nil {
		return u
	}
	return s
}
