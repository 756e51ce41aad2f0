package transcode

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/bouncer-proxy/bouncer/transcode/httprule"
	"github.com/bouncer-proxy/bouncer/transcode/params"
	"github.com/bouncer-proxy/bouncer/transcode/validate"
)

// inputError is a request the client got wrong: a 400 (or 413) naming the
// field when there is one.
type inputError struct {
	status     int
	field      string
	msg        string
	violations []*errdetails.BadRequest_FieldViolation // from validation rules; several at once
}

func (e *inputError) Error() string { return e.msg }

// rpcStatus is e as the google.rpc.Status of its answer, with a
// google.rpc.BadRequest detail naming the fields at fault.
func (e *inputError) rpcStatus() *status.Status {
	st := &status.Status{Code: int32(codeForHTTP(e.status)), Message: e.msg}
	var detail proto.Message
	switch {
	case len(e.violations) > 0:
		detail = &errdetails.BadRequest{FieldViolations: e.violations}
	case e.field != "":
		detail = fieldViolation(e.field, e.msg)
	}
	if detail != nil {
		if a, err := anypb.New(detail); err == nil {
			st.Details = append(st.Details, a)
		}
	}
	return st
}

func badInput(field, format string, args ...any) *inputError {
	return &inputError{status: http.StatusBadRequest, field: field, msg: fmt.Sprintf(format, args...)}
}

// readBody reads the whole request body, up to limit bytes (413 above).
func readBody(r *http.Request, limit int64) ([]byte, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	if r.ContentLength > limit && limit > 0 {
		return nil, &inputError{status: http.StatusRequestEntityTooLarge, msg: fmt.Sprintf("request body is larger than %d bytes", limit)}
	}
	var src io.Reader = r.Body
	if limit > 0 {
		src = io.LimitReader(r.Body, limit+1)
	}
	b, err := io.ReadAll(src)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, &inputError{status: http.StatusRequestEntityTooLarge, msg: "request body is too large"}
		}
		return nil, err
	}
	if limit > 0 && int64(len(b)) > limit {
		return nil, &inputError{status: http.StatusRequestEntityTooLarge, msg: fmt.Sprintf("request body is larger than %d bytes", limit)}
	}
	return b, nil
}

// fillRequest builds the request message of b from the body, the path
// variables and the query.
func (h *Handler) fillRequest(b *binding, t *table, r *http.Request, vars []httprule.VarValue, body []byte) (protoreflect.Message, error) {
	m := b.in.New()
	switch {
	case b.body == bodyAll && b.bodyRaw:
		setHTTPBody(m, r.Header.Get("Content-Type"), body)
	case b.body == bodyAll:
		if err := h.unmarshalJSON(t, body, m, ""); err != nil {
			return nil, err
		}
	case b.body == bodyField:
		if err := h.fillBodyField(b, t, r, m, body); err != nil {
			return nil, err
		}
	}
	for _, v := range vars {
		if err := params.SetPath(m, b.vars[v.FieldPath], v.Value); err != nil {
			return nil, asInputError(err, v.FieldPath)
		}
	}
	if b.query != nil && r.URL.RawQuery != "" {
		if err := b.query.Decode(m, r.URL.RawQuery); err != nil {
			return nil, asInputError(err, "")
		}
	}
	if b.validate {
		if err := checkRules(t, m); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// checkRules applies the protovalidate rules of m's type. Rules that do
// not compile or fail to run are the upstream's fault: a 502, fail closed.
func checkRules(t *table, m protoreflect.Message) error {
	vs := t.validator.Validate(m.Interface())
	if len(vs) == 0 {
		return nil
	}
	e := &inputError{status: http.StatusBadRequest}
	for _, v := range vs {
		if v.Rule == validate.RuleCompileError || v.Rule == validate.RuleRuntimeError {
			return &inputError{status: http.StatusBadGateway, msg: "the upstream's validation rules cannot be evaluated: " + limitText(v.Message, 200)}
		}
		e.violations = append(e.violations, &errdetails.BadRequest_FieldViolation{Field: v.Field, Description: v.Message, Reason: v.Rule})
	}
	first := vs[0]
	e.msg = "invalid request: " + limitText(first.Message, 200)
	if first.Field != "" {
		e.msg = "invalid request: " + first.Field + ": " + limitText(first.Message, 200)
	}
	if len(vs) > 1 {
		e.msg += fmt.Sprintf(" (and %d more)", len(vs)-1)
	}
	return e
}

// fillBodyField fills the body field of m: a message field directly, any
// other kind through a one-field object (protojson reads fields, not bare
// values).
func (h *Handler) fillBodyField(b *binding, t *table, r *http.Request, m protoreflect.Message, body []byte) error {
	parent := m
	for _, fd := range b.bodyPath[:len(b.bodyPath)-1] {
		parent = parent.Mutable(fd).Message()
	}
	leaf := b.bodyPath[len(b.bodyPath)-1]
	switch {
	case b.bodyRaw:
		setHTTPBody(parent.Mutable(leaf).Message(), r.Header.Get("Content-Type"), body)
		return nil
	case len(bytes.TrimSpace(body)) == 0:
		return nil
	case leaf.Kind() == protoreflect.MessageKind && !leaf.IsList() && !leaf.IsMap():
		return h.unmarshalJSON(t, body, parent.Mutable(leaf).Message(), b.bodyPath.String())
	}
	wrapped := make([]byte, 0, len(body)+len(leaf.JSONName())+4)
	wrapped = append(wrapped, '{', '"')
	wrapped = append(wrapped, leaf.JSONName()...)
	wrapped = append(wrapped, '"', ':')
	wrapped = append(wrapped, body...)
	wrapped = append(wrapped, '}')
	tmp := parent.New()
	if err := h.unmarshalJSON(t, wrapped, tmp, b.bodyPath[:len(b.bodyPath)-1].String()); err != nil {
		return err
	}
	parent.Set(leaf, tmp.Get(leaf))
	return nil
}

// unmarshalJSON reads a JSON body into m; an empty body leaves m empty.
func (h *Handler) unmarshalJSON(t *table, body []byte, m protoreflect.Message, at string) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	// Strict first: protojson's DiscardUnknown would also drop unknown enum
	// names, which must be a 400. Only an unknown field is then forgiven,
	// when the route is not strict.
	opts := protojson.UnmarshalOptions{Resolver: resolver{own: t.set.Types}}
	err := opts.Unmarshal(body, m.Interface())
	if err != nil && !h.cfg.Strict && strings.Contains(err.Error(), "unknown field") {
		proto.Reset(m.Interface())
		opts.DiscardUnknown = true
		err = opts.Unmarshal(body, m.Interface())
	}
	if err != nil {
		msg := strings.TrimPrefix(err.Error(), "proto: ")
		if at != "" {
			msg = "in " + at + ": " + msg
		}
		return badInput(at, "invalid JSON body: %s", limitText(msg, 200))
	}
	return nil
}

// setHTTPBody fills a google.api.HttpBody message with raw bytes.
func setHTTPBody(m protoreflect.Message, contentType string, data []byte) {
	fields := m.Descriptor().Fields()
	if fd := fields.ByName("content_type"); fd != nil && contentType != "" {
		m.Set(fd, protoreflect.ValueOfString(contentType))
	}
	if fd := fields.ByName("data"); fd != nil && len(data) > 0 {
		m.Set(fd, protoreflect.ValueOfBytes(data))
	}
}

// asInputError keeps a params.FieldError's field, or names field.
func asInputError(err error, field string) *inputError {
	var fe *params.FieldError
	if errors.As(err, &fe) {
		return badInput(fe.Field, "%s", fe.Error())
	}
	return badInput(field, "%s", err.Error())
}

// limitText keeps error texts that may quote client input short.
func limitText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// isJSONContentType accepts an empty type, application/json and
// application/*+json; the other types are a 415 for JSON bodies.
func isJSONContentType(ct string) bool {
	if ct == "" || ct == "application/json" {
		return true // the common cases, without parsing
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return false
	}
	return mt == "application/json" || strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json") ||
		mt == "application/x-ndjson" || mt == "text/plain"
}
