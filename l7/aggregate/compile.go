package aggregate

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"golang.org/x/net/http/httpguts"
)

// plan is a compiled Call.
type plan struct {
	name       string
	targetName string // Call.Target
	target     http.Handler
	method     string
	path       template
	query      []param // sorted by name
	headers    []param // sorted by name
	body       *template
	bodyType   bool  // Headers sets Content-Type
	deps       []int // calls this one waits for
	dependents []int
	timeout    time.Duration
	retries    int // 0 when the method may not be retried
	optional   bool
	fields     *fieldNode // nil: keep the whole result
	decode     bool       // decode the result: Fields, or a later call reads its body
	breaker    *breaker   // nil: none
}

// param is a query parameter or header with a template value.
type param struct {
	name  string
	value template
}

// headers a call may not set: the sub-request's framing is the package's.
var reservedHeaders = []string{"Host", "Content-Length", "Transfer-Encoding", "Connection", "Te", "Upgrade", "Trailer"}

func (a *Aggregator) compile(opts Options, targets Targets) error {
	names := make(map[string]int, len(opts.Calls))
	for i, c := range opts.Calls {
		if err := checkName(c.Name); err != nil {
			return fmt.Errorf("aggregate: calls[%d]: name %q: %w", i, c.Name, err)
		}
		if _, dup := names[c.Name]; dup {
			return fmt.Errorf("aggregate: calls[%d]: duplicate name %q", i, c.Name)
		}
		names[c.Name] = i
	}
	for _, c := range opts.Calls {
		p, err := compileCall(c, names, targets)
		if err != nil {
			return fmt.Errorf("aggregate: call %q: %w", c.Name, err)
		}
		if opts.BreakerThreshold > 0 {
			p.breaker = opts.Previous.breakerFor(p, opts)
			if p.breaker == nil {
				p.breaker = newBreaker(opts.BreakerThreshold, opts.BreakerCooldown, opts.Now)
			}
		}
		a.calls = append(a.calls, p)
		for _, r := range p.refs() {
			a.usesQuery = a.usesQuery || r.src == srcQuery
			a.usesPath = a.usesPath || r.src == srcPath
		}
	}
	return a.link()
}

// breakerFor is the breaker of a's call that p continues (same name,
// target and settings), or nil. a may be nil.
func (a *Aggregator) breakerFor(p *plan, opts Options) *breaker {
	if a == nil {
		return nil
	}
	cooldown := opts.BreakerCooldown
	if cooldown == 0 {
		cooldown = DefaultBreakerCooldown
	}
	for _, old := range a.calls {
		if b := old.breaker; b != nil && old.name == p.name && old.targetName == p.targetName &&
			b.threshold == opts.BreakerThreshold && b.cooldown == cooldown {
			return b
		}
	}
	return nil
}

func checkName(name string) error {
	if name == "" {
		return errEmptyName
	}
	if name[0] == '_' {
		return fmt.Errorf("names starting with '_' are reserved")
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; !isLetter(c) && (c < '0' || c > '9') && c != '_' && c != '-' {
			return fmt.Errorf("character %q not allowed (letters, digits, '_', '-')", c)
		}
	}
	return nil
}

func compileCall(c Call, names map[string]int, targets Targets) (*plan, error) {
	p := &plan{name: c.Name, targetName: c.Target, method: c.Method, timeout: c.Timeout, optional: c.Optional}
	if p.target = targets[c.Target]; p.target == nil {
		return nil, fmt.Errorf("unknown target %q", c.Target)
	}
	if p.method == "" {
		p.method = http.MethodGet
	}
	if !httpguts.ValidHeaderFieldName(p.method) {
		return nil, fmt.Errorf("bad method %q", p.method)
	}
	if c.Timeout < 0 || c.Retries < 0 {
		return nil, fmt.Errorf("negative timeout or retries")
	}
	if c.RetryUnsafe || idempotent(p.method) {
		p.retries = c.Retries
	}
	var err error
	if p.path, err = parseText(c.Path, names); err == nil {
		err = checkPathLiterals(c.Path, p.path)
	}
	if err != nil {
		return nil, fmt.Errorf("path: %w", err)
	}
	if p.query, err = compileParams("query", c.Query, names, false); err != nil {
		return nil, err
	}
	if p.headers, err = compileParams("headers", c.Headers, names, true); err != nil {
		return nil, err
	}
	if err = p.compileBody(c.Body, names); err != nil {
		return nil, err
	}
	if p.fields, err = compileFields(c.Fields); err != nil {
		return nil, err
	}
	p.decode = p.fields != nil
	for _, after := range c.After {
		idx, ok := names[after]
		if !ok {
			return nil, fmt.Errorf("after: no call named %q", after)
		}
		p.deps = append(p.deps, idx)
	}
	return p, nil
}

func idempotent(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodPut, http.MethodDelete:
		return true
	}
	return false
}

func compileParams(field string, m map[string]string, names map[string]int, header bool) ([]param, error) {
	out := make([]param, 0, len(m))
	for name, value := range m {
		if header {
			if !httpguts.ValidHeaderFieldName(name) {
				return nil, fmt.Errorf("%s: bad header name %q", field, name)
			}
			name = http.CanonicalHeaderKey(name)
			if slices.Contains(reservedHeaders, name) {
				return nil, fmt.Errorf("%s: %s cannot be set", field, name)
			}
		} else if name == "" {
			return nil, fmt.Errorf("%s: empty parameter name", field)
		}
		t, err := parseText(value, names)
		if err != nil {
			return nil, fmt.Errorf("%s[%s]: %w", field, name, err)
		}
		out = append(out, param{name: name, value: t})
	}
	slices.SortFunc(out, func(x, y param) int { return strings.Compare(x.name, y.name) })
	return out, nil
}

func (p *plan) compileBody(body string, names map[string]int) error {
	if body == "" {
		return nil
	}
	t, err := parseJSON(body, names)
	if err != nil {
		return fmt.Errorf("body: %w", err)
	}
	// Placeholders become null (or nothing inside strings): what remains
	// must be JSON, so a template error shows at load, not per request.
	var b strings.Builder
	for _, part := range t.parts {
		switch {
		case part.ref == nil:
			b.WriteString(part.lit)
		case !part.quoted:
			b.WriteString("null")
		}
	}
	var v any
	if err := json.Unmarshal([]byte(b.String()), &v); err != nil {
		return fmt.Errorf("body: not a JSON template: %w", err)
	}
	p.body = &t
	for _, h := range p.headers {
		p.bodyType = p.bodyType || h.name == "Content-Type"
	}
	return nil
}

// refs returns every placeholder of the call's templates.
func (p *plan) refs() []*ref {
	out := p.path.refs()
	for _, q := range p.query {
		out = append(out, q.value.refs()...)
	}
	for _, h := range p.headers {
		out = append(out, h.value.refs()...)
	}
	if p.body != nil {
		out = append(out, p.body.refs()...)
	}
	return out
}

// link adds the dependencies placeholders imply, refuses cycles and
// records dependents and roots.
func (a *Aggregator) link() error {
	for _, p := range a.calls {
		for _, r := range p.refs() {
			switch r.src {
			case srcCallBody:
				a.calls[r.call].decode = true
				fallthrough
			case srcCallStatus, srcCallHeader:
				p.deps = append(p.deps, r.call)
			}
		}
		slices.Sort(p.deps)
		p.deps = slices.Compact(p.deps)
	}
	if cycle := findCycle(a.calls); cycle != nil {
		return fmt.Errorf("aggregate: dependency cycle: %s", strings.Join(cycle, " -> "))
	}
	for i, p := range a.calls {
		if len(p.deps) == 0 {
			a.roots = append(a.roots, i)
		}
		for _, d := range p.deps {
			a.calls[d].dependents = append(a.calls[d].dependents, i)
		}
	}
	return nil
}

// findCycle returns the names along a dependency cycle, first name
// repeated at the end, or nil.
func findCycle(calls []*plan) []string {
	const (
		unseen = iota
		open
		done
	)
	state := make([]int, len(calls))
	var stack []int
	var visit func(i int) []string
	visit = func(i int) []string {
		state[i] = open
		stack = append(stack, i)
		for _, d := range calls[i].deps {
			switch state[d] {
			case open:
				start := slices.Index(stack, d)
				var names []string
				for _, j := range stack[start:] {
					names = append(names, calls[j].name)
				}
				return append(names, calls[d].name)
			case unseen:
				if c := visit(d); c != nil {
					return c
				}
			}
		}
		state[i] = done
		stack = stack[:len(stack)-1]
		return nil
	}
	for i := range calls {
		if state[i] == unseen {
			if c := visit(i); c != nil {
				return c
			}
		}
	}
	return nil
}
