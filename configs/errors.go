package configs

import (
	"fmt"
	"strings"
)

// Error is one problem in a config file, located by file, line and key path.
type Error struct {
	File string // "" for configs not read from a file
	Line int    // 0 when unknown
	Path string // key path such as "routes[2].proxy.upstream"
	Msg  string
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		b.WriteByte(':')
	}
	if e.Line > 0 {
		fmt.Fprintf(&b, "%d:", e.Line)
	}
	if b.Len() > 0 {
		b.WriteByte(' ')
	}
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors is every problem found in one config, in file order. It is
// returned as an error by Parse, Load and Validate; callers that list
// problems range over it with errors.As.
type Errors []*Error

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// errorSink collects errors for one file, locating them with its positions.
type errorSink struct {
	file string
	pos  map[string]int
	errs Errors
}

// addf records a problem at path; the line is the nearest known one.
func (s *errorSink) addf(path, format string, args ...any) {
	s.errs = append(s.errs, &Error{File: s.file, Line: lineOf(s.pos, path), Path: path, Msg: fmt.Sprintf(format, args...)})
}

// addAt records a problem at an explicit line.
func (s *errorSink) addAt(line int, path, format string, args ...any) {
	s.errs = append(s.errs, &Error{File: s.file, Line: line, Path: path, Msg: fmt.Sprintf(format, args...)})
}

func (s *errorSink) err() error {
	if len(s.errs) == 0 {
		return nil
	}
	return s.errs
}

// lineOf finds the line of path, or of its nearest ancestor.
func lineOf(pos map[string]int, path string) int {
	for p := path; p != ""; p = parentPath(p) {
		if l, ok := pos[p]; ok {
			return l
		}
	}
	return 0
}

// parentPath drops the last element of a key path: "a.b[2]" -> "a.b" -> "a".
func parentPath(p string) string {
	if strings.HasSuffix(p, "]") {
		if i := strings.LastIndexByte(p, '['); i >= 0 {
			return p[:i]
		}
	}
	if i := strings.LastIndexByte(p, '.'); i >= 0 {
		return p[:i]
	}
	return ""
}

// Line returns the line where the key at path (or its nearest ancestor)
// is written, 0 when unknown. Builders use it to locate their own errors.
func (c *Config) Line(path string) int { return lineOf(c.pos, path) }

// Errorf makes an Error located at path in this config.
func (c *Config) Errorf(path, format string, args ...any) *Error {
	return &Error{File: c.File, Line: c.Line(path), Path: path, Msg: fmt.Sprintf(format, args...)}
}
