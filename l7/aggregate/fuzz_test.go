package aggregate

import "testing"

// FuzzTemplates: any path, header and body template compiles or is
// refused with an error, never a panic.
func FuzzTemplates(f *testing.F) {
	f.Add("/users/{path.id}", "{identity.claims.sub}", `{"a": {calls.user.body.x}, "b": "{query.q}"}`)
	f.Add("/{", "}{", `{"x": "{calls.`)
	calls := map[string]int{"user": 0}
	f.Fuzz(func(t *testing.T, path, header, body string) {
		_, _ = parseText(path, calls)
		_, _ = parseText(header, calls)
		_, _ = parseJSON(body, calls)
	})
}
