package route

import (
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
)

// valueOp is the test of one header or query condition.
type valueOp uint8

const (
	opPresent valueOp = iota // the name appears
	opAbsent                 // the name does not appear
	opEqual                  // one of its values equals value
	opRegex                  // one of its values matches re as a whole
)

// valueCond is one compiled configs.ValueMatch.
type valueCond struct {
	name  string // canonical header key, or the decoded query parameter name
	op    valueOp
	value string         // for opEqual; the regex source for opRegex
	re    *regexp.Regexp // for opRegex, anchored at both ends
}

// String shows the condition in Rows and keys conflicts.
func (c *valueCond) String() string {
	switch c.op {
	case opAbsent:
		return c.name + " absent"
	case opEqual:
		return c.name + " = " + strconv.Quote(c.value)
	case opRegex:
		return c.name + " ~ " + strconv.Quote(c.value)
	}
	return c.name + " present"
}

// conditions are a route's tests beyond host and path; all must hold.
type conditions struct {
	methods []string // upper case; empty: any
	headers []valueCond
	query   []valueCond
}

// count is how many conditions there are, for precedence: the method set
// counts as one.
func (c *conditions) count() int {
	n := len(c.headers) + len(c.query)
	if len(c.methods) > 0 {
		n++
	}
	return n
}

// match reports whether the request meets every condition.
func (c *conditions) match(rq *request) bool {
	if len(c.methods) > 0 && !matchMethod(c.methods, rq.method) {
		return false
	}
	for i := range c.headers {
		if !c.headers[i].matchHeader(rq.header) {
			return false
		}
	}
	for i := range c.query {
		if !c.query[i].matchQuery(rq.query) {
			return false
		}
	}
	return true
}

// matchMethod compares case-insensitively: method names are case-sensitive
// (RFC 9110 section 9.1), but an upstream that folds case would otherwise
// let "delete" dodge a route that guards DELETE.
func matchMethod(methods []string, m string) bool {
	for _, x := range methods {
		if strings.EqualFold(x, m) {
			return true
		}
	}
	return false
}

// matchHeader tests the header's field values one by one; Go's server
// stores request headers under canonical keys.
func (c *valueCond) matchHeader(h http.Header) bool {
	vs := h[c.name]
	switch c.op {
	case opPresent:
		return len(vs) > 0
	case opAbsent:
		return len(vs) == 0
	}
	for _, v := range vs {
		if c.matchValue(v) {
			return true
		}
	}
	return false
}

func (c *valueCond) matchValue(v string) bool {
	if c.op == opEqual {
		return v == c.value
	}
	return c.re.MatchString(v)
}

// matchQuery scans the raw query (pairs split by "&", names and values
// form-decoded) without allocating, except to decode a value for a regex.
func (c *valueCond) matchQuery(raw string) bool {
	for raw != "" {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		k, v, _ := strings.Cut(pair, "=")
		if !queryEqual(k, c.name) {
			continue
		}
		switch c.op {
		case opPresent:
			return true
		case opAbsent:
			return false
		case opEqual:
			if queryEqual(v, c.value) {
				return true
			}
		case opRegex:
			if strings.ContainsAny(v, "%+") {
				d, err := url.QueryUnescape(v)
				if err == nil && c.re.MatchString(d) {
					return true
				}
			} else if c.re.MatchString(v) {
				return true
			}
		}
	}
	return c.op == opAbsent
}

// queryEqual reports whether the form-encoded enc decodes to plain. A
// malformed escape never matches.
func queryEqual(enc, plain string) bool {
	j := 0
	for i := 0; i < len(enc); i++ {
		c := enc[i]
		switch c {
		case '+':
			c = ' '
		case '%':
			if i+2 >= len(enc) || !isHex(enc[i+1]) || !isHex(enc[i+2]) {
				return false
			}
			c = unhex(enc[i+1])<<4 | unhex(enc[i+2])
			i += 2
		}
		if j >= len(plain) || plain[j] != c {
			return false
		}
		j++
	}
	return j == len(plain)
}
