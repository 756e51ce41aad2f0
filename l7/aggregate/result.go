package aggregate

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/bouncer-proxy/bouncer/l7"
)

// result is the outcome of one call. A call goroutine fills it and hands
// it to the scheduler over a channel; after that nobody writes it.
type result struct {
	status  int
	header  http.Header
	body    []byte // the result as it appears in the response (JSON)
	value   any    // the decoded whole result, when the plan decodes
	failed  bool
	message string   // why it failed, safe to show
	info    *l7.Info // the sub-requests' Info copy; nil without one
}

func failure(status int, format string, args ...any) *result {
	return &result{status: status, failed: true, message: fmt.Sprintf(format, args...)}
}

var jsonNull = []byte("null")

// accept turns a 2xx answer recorded in rec into the call's result: JSON
// as is (trimmed to Fields), other bodies as a JSON string, no body as
// null. A body that says it is JSON and is not fails the call.
func (p *plan) accept(rec *recorder) *result {
	res := &result{status: rec.status, header: rec.header, body: jsonNull}
	if ce := rec.header.Get("Content-Encoding"); ce != "" && !strings.EqualFold(ce, "identity") {
		return failure(http.StatusBadGateway, "response has content-encoding %s", ce)
	}
	body := rec.buf
	if len(body) == 0 {
		return res
	}
	mt, _, _ := strings.Cut(rec.header.Get("Content-Type"), ";")
	mt = strings.ToLower(strings.TrimSpace(mt))
	isJSON := mt == "application/json" || strings.HasSuffix(mt, "+json")
	if mt != "" && !isJSON {
		res.value, res.body = string(body), appendJSON(nil, string(body))
		return res
	}
	if !p.decode {
		switch {
		case json.Valid(body):
			res.body = body
		case isJSON:
			return failure(http.StatusBadGateway, "response is not valid JSON")
		default:
			res.value, res.body = string(body), appendJSON(nil, string(body))
		}
		return res
	}
	v, err := decode(body)
	switch {
	case err != nil && isJSON:
		return failure(http.StatusBadGateway, "response is not valid JSON")
	case err != nil:
		res.value, res.body = string(body), appendJSON(nil, string(body))
		return res
	}
	res.value, res.body = v, body
	if p.fields != nil {
		if f, ok := filter(v, p.fields); ok {
			res.body = encode(f)
		}
	}
	return res
}

// decode parses one JSON value, numbers kept as json.Number so that they
// pass through unchanged.
func decode(body []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("data after the JSON value")
	}
	return v, nil
}

func encode(v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return jsonNull
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte{'\n'})
}

// fieldNode is a compiled Fields list: a tree of field names.
type fieldNode struct {
	leaf     bool // keep the whole value here
	children map[string]*fieldNode
}

func compileFields(fields []string) (*fieldNode, error) {
	if len(fields) == 0 {
		return nil, nil
	}
	root := &fieldNode{}
	for i, f := range fields {
		n := root
		for _, seg := range strings.Split(f, ".") {
			if seg == "" {
				return nil, fmt.Errorf("fields[%d]: empty field name in %q", i, f)
			}
			if n.children == nil {
				n.children = map[string]*fieldNode{}
			}
			if n.children[seg] == nil {
				n.children[seg] = &fieldNode{}
			}
			n = n.children[seg]
		}
		n.leaf = true
	}
	return root, nil
}

// filter keeps n's fields of v: of an object, or of each object in an
// array. ok is false when v is a scalar and n wants fields of it; array
// elements that are scalars are kept.
func filter(v any, n *fieldNode) (any, bool) {
	if n.leaf {
		return v, true
	}
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(n.children))
		for k, c := range n.children {
			if y, ok := x[k]; ok {
				if f, ok := filter(y, c); ok {
					out[k] = f
				}
			}
		}
		return out, true
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = e
			if f, ok := filter(e, n); ok {
				out[i] = f
			}
		}
		return out, true
	}
	return nil, false
}

// writeResults writes the composed 200 answer.
func (a *Aggregator) writeResults(w http.ResponseWriter, r *http.Request, results []*result) {
	var b []byte
	if a.merge {
		b = a.mergeResults(results)
	} else {
		b = append(b, '{')
		for i, p := range a.calls {
			if res := results[i]; !res.failed {
				b = appendKey(b, p.name)
				b = append(b, res.body...)
			}
		}
		if errs := a.errorsJSON(results); errs != nil {
			b = append(appendKey(b, ErrorsKey), errs...)
		}
		b = append(b, '}')
	}
	b = append(b, '\n')
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(b)
	}
}

// appendKey appends a member name and colon, with a comma unless the
// object was just opened. Names are checked at New, so need no escaping.
func appendKey(b []byte, name string) []byte {
	if b[len(b)-1] != '{' {
		b = append(b, ',')
	}
	b = append(b, '"')
	b = append(b, name...)
	return append(b, '"', ':')
}

// mergeResults merges the top-level fields of object results in call
// order, later ones winning; keys come out sorted.
func (a *Aggregator) mergeResults(results []*result) []byte {
	fields := map[string]json.RawMessage{}
	for i, p := range a.calls {
		res := results[i]
		if res.failed {
			continue
		}
		var obj map[string]json.RawMessage
		if t := bytes.TrimSpace(res.body); len(t) == 0 || t[0] != '{' || json.Unmarshal(t, &obj) != nil {
			fields[p.name] = res.body
			continue
		}
		for k, v := range obj {
			fields[k] = v
		}
	}
	if errs := a.errorsJSON(results); errs != nil {
		fields[ErrorsKey] = errs
	}
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b := []byte{'{'}
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSON(b, k)
		b = append(b, ':')
		b = append(b, fields[k]...)
	}
	return append(b, '}')
}

// errorsJSON is the "_errors" object, or nil when no call failed.
func (a *Aggregator) errorsJSON(results []*result) []byte {
	var b []byte
	for i, p := range a.calls {
		res := results[i]
		if !res.failed {
			continue
		}
		if b == nil {
			b = append(b, '{')
		}
		b = appendKey(b, p.name)
		b = append(b, `{"status":`...)
		b = strconv.AppendInt(b, int64(res.status), 10)
		b = append(b, `,"message":"`...)
		b = appendEscaped(b, res.message)
		b = append(b, `"}`...)
	}
	if b == nil {
		return nil
	}
	return append(b, '}')
}
