package route

import (
	"errors"
	"fmt"
)

// ErrNeverMatches is wrapped by the Compile error of a route that an
// earlier route with the same conditions always takes first.
var ErrNeverMatches = errors.New("route can never match")

// Error is one problem with one route, found by Compile. Compile returns
// every Error it finds, joined with errors.Join; callers list them with
// errors.As on each joined error, or print the whole.
type Error struct {
	Name  string // the route's name
	Index int    // the route's position in the config (routes[Index])
	Field string // the key under the route, such as "match.hosts[1]"
	Err   error
}

// Path is the key path of the problem in the config, such as
// "routes[3].match.regex".
func (e *Error) Path() string { return fmt.Sprintf("routes[%d].%s", e.Index, e.Field) }

func (e *Error) Error() string {
	return fmt.Sprintf("route %q (%s): %v", e.Name, e.Path(), e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// problems collects the errors of one route.
type problems struct {
	name  string
	index int
	errs  []error
}

func (p *problems) add(field string, err error) {
	p.errs = append(p.errs, &Error{Name: p.name, Index: p.index, Field: field, Err: err})
}

func (p *problems) addf(field, format string, args ...any) {
	p.add(field, fmt.Errorf(format, args...))
}
