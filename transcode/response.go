package transcode

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"

	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// respond turns the gRPC answer res of binding b into the client's
// response and returns the outcome in HTTP terms for the endpoint's
// health and the metrics; abort asks the caller to cut the response (a
// raw stream that failed after its first bytes), once Done has run.
func (h *Handler) respond(w http.ResponseWriter, r *http.Request, t *table, b *binding, res *http.Response) (outcome int, abort bool) {
	if st, hs, ok := callStatus(res); !ok {
		h.writeMetadata(w.Header(), res.Header, "")
		writeStatus(w, r, hs, st, t.set.Types)
		return h.outcome(st, hs), false
	} else if st != nil { // trailers-only OK: no message at all
		if b.method.IsStreamingServer() {
			return h.stream(w, r, t, b, res)
		}
		st = &status.Status{Code: int32(codes.Internal), Message: "upstream sent no response message"}
		writeStatus(w, r, http.StatusBadGateway, st, t.set.Types)
		return http.StatusBadGateway, false
	}
	if b.method.IsStreamingServer() {
		return h.stream(w, r, t, b, res)
	}
	return h.unary(w, r, t, b, res), false
}

// unary reads the one response message and the status, then answers.
func (h *Handler) unary(w http.ResponseWriter, r *http.Request, t *table, b *binding, res *http.Response) int {
	fr := &frameReader{r: res.Body, max: maxResponseMessage}
	raw, err := fr.next()
	var msg protoreflect.Message
	switch {
	case err == nil:
		if msg, err = responseMessage(b, raw); err != nil {
			return h.badUpstream(w, r, "upstream sent a response message that does not decode")
		}
		if _, err = fr.next(); err == nil {
			return h.badUpstream(w, r, "upstream sent more than one message for a unary call")
		}
	case errors.Is(err, errFrameTooLarge):
		return h.badUpstream(w, r, "upstream response message is too large")
	}
	if err != io.EOF {
		if st, hs, ok := callEnded(r.Context()); ok {
			return writeEnded(w, r, t, st, hs)
		}
		return h.badUpstream(w, r, "upstream response broke off")
	}
	st, hs := trailerStatus(res)
	h.writeMetadata(w.Header(), res.Header, "")
	h.writeMetadata(w.Header(), res.Trailer, "Trailer-")
	if st.Code != 0 {
		writeStatus(w, r, hs, st, t.set.Types)
		return h.outcome(st, hs)
	}
	if msg == nil {
		return h.badUpstream(w, r, "upstream sent no response message")
	}
	if b.status == http.StatusNoContent || b.status == http.StatusResetContent {
		w.WriteHeader(b.status) // no body allowed (RFC 9110 15.3.5, 15.3.6)
		return http.StatusOK
	}
	body, ctype, err := h.encodeResponse(t, b, msg)
	if err != nil {
		return h.badUpstream(w, r, "the response message cannot be written as JSON")
	}
	hdr := w.Header()
	hdr.Set("Content-Type", ctype)
	hdr.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(b.status)
	_, _ = w.Write(body)
	return http.StatusOK
}

// writeEnded answers a call that ended on Bouncer's side (see
// callEnded); a client gone gets nothing. It returns the outcome for Done.
func writeEnded(w http.ResponseWriter, r *http.Request, t *table, st *status.Status, hs int) int {
	if hs != 499 {
		writeStatus(w, r, hs, st, t.set.Types)
	}
	return hs
}

func (h *Handler) badUpstream(w http.ResponseWriter, r *http.Request, msg string) int {
	writeError(w, r, http.StatusBadGateway, msg)
	return http.StatusBadGateway
}

// encodeResponse writes msg (or its response_body field) as JSON, or as
// raw bytes with their content type for google.api.HttpBody.
func (h *Handler) encodeResponse(t *table, b *binding, msg protoreflect.Message) ([]byte, string, error) {
	target := msg
	var leaf protoreflect.FieldDescriptor
	if b.respPath != nil {
		for _, fd := range b.respPath[:len(b.respPath)-1] {
			target = target.Get(fd).Message()
		}
		leaf = b.respPath[len(b.respPath)-1]
	}
	if b.respRaw {
		if leaf != nil {
			target = target.Get(leaf).Message()
		}
		return httpBodyBytes(target)
	}
	opts := h.marshal
	opts.Resolver = resolver{own: t.set.Types}
	if leaf == nil {
		b, err := opts.Marshal(target.Interface())
		return b, "application/json", err
	}
	if leaf.Kind() == protoreflect.MessageKind && !leaf.IsList() && !leaf.IsMap() {
		b, err := opts.Marshal(target.Get(leaf).Message().Interface())
		return b, "application/json", err
	}
	// A scalar, list or map field: marshal a message holding only it, with
	// unpopulated fields written so it is there, and take its value.
	only := target.New()
	if target.Has(leaf) {
		only.Set(leaf, target.Get(leaf))
	}
	opts.EmitUnpopulated = true
	whole, err := opts.Marshal(only.Interface())
	if err != nil {
		return nil, "", err
	}
	name := leaf.JSONName()
	if opts.UseProtoNames {
		name = string(leaf.Name())
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(whole, &fields); err != nil {
		return nil, "", err
	}
	v, ok := fields[name]
	if !ok {
		v = json.RawMessage("null")
	}
	return v, "application/json", nil
}

// httpBodyBytes returns the data and content type of a google.api.HttpBody.
func httpBodyBytes(m protoreflect.Message) ([]byte, string, error) {
	fields := m.Descriptor().Fields()
	ct, data := "", []byte(nil)
	if fd := fields.ByName("content_type"); fd != nil {
		ct = m.Get(fd).String()
	}
	if fd := fields.ByName("data"); fd != nil {
		data = m.Get(fd).Bytes()
	}
	if ct == "" {
		ct = "application/octet-stream"
	}
	return data, ct, nil
}

// writeMetadata copies gRPC metadata to response headers with the
// configured prefix (and extra, such as "Trailer-", after it). Reserved
// and binary gRPC names stay behind.
func (h *Handler) writeMetadata(dst, md http.Header, extra string) {
	prefix := h.cfg.Metadata.Prefix
	if prefix == "" {
		return
	}
	for name, vv := range md {
		lk := strings.ToLower(name)
		if reservedMetadata(lk) || strings.HasSuffix(lk, "-bin") || lk == "date" || lk == "server" {
			continue
		}
		dst[http.CanonicalHeaderKey(prefix+extra+name)] = append([]string(nil), vv...)
	}
}
