package configs

import (
	"net/url"
	"reflect"
	"strings"

	"gopkg.in/yaml.v3"
)

// Redacted is the text that stands for a secret in Redact's output.
const Redacted = "[redacted]"

// Redact returns c as YAML with its secrets replaced by Redacted:
//   - the values of keys tagged secret:"true" (all of a map's or a list's
//     values when the key holds one);
//   - in maps of strings (headers, metadata), the values of credential
//     names: Authorization, Cookie, and names containing auth, key,
//     token, secret or password;
//   - the user information of URLs (user:password@).
//
// What it shows is meant for operators (the admin API's /config); the
// secrets' presence stays visible, their values do not.
func Redact(c *Config) ([]byte, error) {
	var doc yaml.Node
	if err := doc.Encode(c); err != nil {
		return nil, err
	}
	redactNode(&doc, reflect.TypeOf(c))
	return yaml.Marshal(&doc)
}

var marshalerType = reflect.TypeFor[yaml.Marshaler]()

// redactNode walks n, the YAML encoding of a value of type t.
func redactNode(n *yaml.Node, t reflect.Type) {
	if n.Kind == yaml.DocumentNode {
		for _, c := range n.Content {
			redactNode(c, t)
		}
		return
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Implements(marshalerType) {
		return // Duration, Size: written as plain scalars
	}
	switch {
	case t.Kind() == reflect.Struct && n.Kind == yaml.MappingNode:
		fields := map[string]docField{}
		for _, f := range docFields(t) {
			fields[f.Key] = f
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			f, ok := fields[n.Content[i].Value]
			switch {
			case !ok:
			case f.Secret:
				blank(n.Content[i+1])
			default:
				redactNode(n.Content[i+1], f.Type)
			}
		}
	case (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) && n.Kind == yaml.SequenceNode:
		for _, c := range n.Content {
			redactNode(c, t.Elem())
		}
	case t.Kind() == reflect.Map && n.Kind == yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			if t.Elem().Kind() == reflect.String && credentialName(n.Content[i].Value) {
				blank(n.Content[i+1])
				continue
			}
			redactNode(n.Content[i+1], t.Elem())
		}
	case t.Kind() == reflect.String && n.Kind == yaml.ScalarNode:
		n.Value = redactURL(n.Value)
	}
}

// blank replaces every scalar under n that is not empty.
func blank(n *yaml.Node) {
	if n.Kind == yaml.ScalarNode {
		if n.Value != "" {
			n.Value, n.Tag, n.Style = Redacted, "!!str", 0
		}
		return
	}
	for i, c := range n.Content {
		if n.Kind == yaml.MappingNode && i%2 == 0 {
			continue // keys stay
		}
		blank(c)
	}
}

// credentialName reports whether a header or metadata name usually
// carries a credential.
func credentialName(name string) bool {
	k := strings.ToLower(name)
	if k == "cookie" || k == "set-cookie" {
		return true
	}
	for _, s := range []string{"auth", "key", "token", "secret", "password"} {
		if strings.Contains(k, s) {
			return true
		}
	}
	return false
}

// redactURL hides the user information of an absolute URL.
func redactURL(s string) string {
	if !strings.Contains(s, "://") || !strings.Contains(s, "@") {
		return s
	}
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	u.User = url.User(Redacted)
	return u.String()
}
