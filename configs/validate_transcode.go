package configs

import (
	"fmt"
	"strings"
)

// transcode checks a transcode action: its upstream speaks gRPC (h2c or
// h2), and every configured rule names a method and has exactly one
// pattern per binding. Path templates and field names are checked when
// the route is built, against the parser and the descriptors.
func (v *validator) transcode(p string, a *TranscodeAction) {
	switch u, ok := v.c.Upstreams[a.Upstream]; {
	case !ok:
		v.sink.addf(p+".upstream", "no upstream named %q", a.Upstream)
	case u.Protocol != "h2c" && u.Protocol != "h2":
		v.sink.addf(p+".upstream", "upstream %q speaks %s; gRPC needs protocol h2c or h2", a.Upstream, u.Protocol)
	}
	if a.Timeout > 0 && a.PerTryTimeout > a.Timeout {
		v.sink.addf(p+".per_try_timeout", "is longer than timeout")
	}
	v.retry(p+".retry", a.Retry)
	for i, s := range a.Services {
		if !validFullName(s) {
			v.sink.addf(fmt.Sprintf("%s.services[%d]", p, i), "%q is not a fully qualified service name (package.Service)", s)
		}
	}
	if a.MaxBodyBytes < 0 {
		v.sink.addf(p+".max_request_body_bytes", "must not be negative")
	}
	if !a.Annotations && !a.AutoPost && len(a.Rules) == 0 {
		v.sink.addf(p, "annotations and auto_post are off and no rules are given: nothing would be served")
	}
	for i, r := range a.Rules {
		rp := fmt.Sprintf("%s.rules[%d]", p, i)
		if r.Selector != "" && (!validFullName(r.Selector) || !strings.Contains(r.Selector, ".")) {
			v.sink.addf(rp+".selector", "%q is not a method name (package.Service.Method)", r.Selector)
		}
		for j, b := range r.Bindings {
			v.binding(fmt.Sprintf("%s.bindings[%d]", rp, j), b)
		}
	}
	if o := a.OpenAPI; o != nil {
		for key, path := range map[string]string{"path": o.Path, "docs_path": o.DocsPath} {
			if path != "" && !strings.HasPrefix(path, "/") {
				v.sink.addf(p+".openapi."+key, "must start with /")
			}
		}
		if o.DocsPath != "" && o.DocsPath == o.Path {
			v.sink.addf(p+".openapi.docs_path", "is the same as path")
		}
	}
	for i, h := range a.Metadata.Headers {
		if !validToken(h) {
			v.sink.addf(fmt.Sprintf("%s.metadata.headers[%d]", p, i), "%q is not a header name", h)
		}
	}
}

func (v *validator) binding(p string, b HTTPBinding) {
	n := 0
	for _, s := range []string{b.Get, b.Put, b.Post, b.Delete, b.Patch} {
		if s != "" {
			n++
		}
	}
	if b.Custom != nil {
		n++
		if !validToken(b.Custom.Kind) {
			v.sink.addf(p+".custom.kind", "%q is not an HTTP method", b.Custom.Kind)
		}
	}
	if n != 1 {
		v.sink.addf(p, "a binding needs exactly one of get, put, post, delete, patch, custom (has %d)", n)
	}
	if b.SuccessStatus < 200 || b.SuccessStatus > 299 {
		v.sink.addf(p+".success_status", "%d is not a 2xx status", b.SuccessStatus)
	}
}

// validFullName accepts a dotted protobuf name: identifiers separated by
// single dots.
func validFullName(s string) bool {
	if s == "" {
		return false
	}
	for _, part := range strings.Split(s, ".") {
		if part == "" {
			return false
		}
		for i, c := range part {
			letter := c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
			if !letter && (i == 0 || c < '0' || c > '9') {
				return false
			}
		}
	}
	return true
}

// grpcSource checks an upstream's descriptor source.
func (v *validator) grpcSource(p string, u Upstream) {
	g := u.GRPC
	if g == nil {
		return
	}
	if u.Protocol != "h2c" && u.Protocol != "h2" {
		v.sink.addf(p+".grpc", "a gRPC upstream needs protocol h2c or h2 (has %s)", u.Protocol)
	}
	switch {
	case g.Reflection && g.Protoset != "":
		v.sink.addf(p+".grpc.protoset", "set reflection: false to use a protoset instead")
	case !g.Reflection && g.Protoset == "":
		v.sink.addf(p+".grpc", "reflection is off and no protoset is given: no descriptors")
	}
	if g.RefreshInterval < 0 {
		v.sink.addf(p+".grpc.refresh_interval", "must not be negative")
	}
	for k := range g.ReflectionMetadata {
		if !validToken(k) || strings.HasPrefix(strings.ToLower(k), "grpc-") {
			v.sink.addf(p+".grpc.reflection_metadata."+k, "%q is not a metadata key that may be sent", k)
		}
	}
}
