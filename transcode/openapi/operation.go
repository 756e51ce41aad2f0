package openapi

import (
	"fmt"
	"net/http"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/bouncer-proxy/bouncer/transcode/params"
)

// operation is an OpenAPI Operation Object.
type operation struct {
	Tags        []string             `json:"tags"`
	Summary     string               `json:"summary,omitempty"`
	Description string               `json:"description,omitempty"`
	OperationID string               `json:"operationId"`
	Parameters  []*parameter         `json:"parameters,omitempty"`
	RequestBody *requestBody         `json:"requestBody,omitempty"`
	Responses   map[string]*response `json:"responses"`
	Deprecated  bool                 `json:"deprecated,omitempty"`
	GRPCMethod  string               `json:"x-grpc-method"`
	Streaming   string               `json:"x-grpc-streaming,omitempty"`
}

// parameter is an OpenAPI Parameter Object.
type parameter struct {
	Name         string  `json:"name"`
	In           string  `json:"in"`
	Description  string  `json:"description,omitempty"`
	Required     bool    `json:"required,omitempty"`
	Deprecated   bool    `json:"deprecated,omitempty"`
	Style        string  `json:"style,omitempty"`
	Explode      *bool   `json:"explode,omitempty"`
	Schema       *schema `json:"schema"`
	FieldPath    string  `json:"x-field-path,omitempty"`
	MultiSegment bool    `json:"x-multi-segment,omitempty"`
}

type requestBody struct {
	Description string               `json:"description,omitempty"`
	Content     map[string]mediaType `json:"content"`
	Required    bool                 `json:"required,omitempty"`
}

type mediaType struct {
	Schema *schema `json:"schema"`
}

type response struct {
	Description string               `json:"description"`
	Content     map[string]mediaType `json:"content,omitempty"`
}

// Media types of streams.
const (
	ndjson    = "application/x-ndjson"
	sse       = "text/event-stream"
	jsonType  = "application/json"
	anyType   = "*/*"
	multiNote = "The value spans several path segments and holds '/' as is " +
		"(OpenAPI path parameters cannot express that; do not escape '/' as %2F)."
)

// operation builds the Operation Object of op, whose path parameters are
// vars (the template's variables, renamed as the path needs).
func (b *builder) operation(op Operation, id string, sp splitPath, vars []pathVar) (*operation, error) {
	md := op.Method
	doc := comment(md)
	o := &operation{Tags: []string{string(md.Parent().FullName())}, Summary: summary(doc), Description: doc,
		OperationID: id, GRPCMethod: "/" + string(md.Parent().FullName()) + "/" + string(md.Name()),
		Streaming: streaming(md), Deprecated: isDeprecated(md.Options())}
	in := md.Input()
	var bound []params.Path
	for _, v := range vars {
		p, err := b.pathParam(in, v)
		if err != nil {
			return nil, err
		}
		o.Parameters = append(o.Parameters, p.param)
		if p.path != nil {
			bound = append(bound, p.path)
		}
	}
	var bodyPath params.Path
	if op.Body != "" && op.Body != "*" {
		p, err := params.Resolve(in, op.Body)
		if err != nil {
			return nil, fmt.Errorf("body: %w", err)
		}
		bodyPath, bound = p, append(bound, p)
	}
	if op.Body != "*" {
		o.Parameters = append(o.Parameters, b.queryParams(in, bound)...)
	}
	if op.Body != "" {
		o.RequestBody = b.requestBody(md, bodyPath)
	}
	ok, err := b.success(md, op.ResponseBody)
	if err != nil {
		return nil, err
	}
	status := op.Status
	if status == 0 {
		status = http.StatusOK
	}
	o.Responses = map[string]*response{fmt.Sprint(status): ok, "default": errorResponse()}
	return o, nil
}

// streaming names the streaming kind of md, "" for a unary method.
func streaming(md protoreflect.MethodDescriptor) string {
	switch {
	case md.IsStreamingClient() && md.IsStreamingServer():
		return "bidi"
	case md.IsStreamingClient():
		return "client"
	case md.IsStreamingServer():
		return "server"
	}
	return ""
}

// requestBody describes the body: the whole input (bodyPath nil) or one
// field; raw bytes for google.api.HttpBody; NDJSON for a client stream.
func (b *builder) requestBody(md protoreflect.MethodDescriptor, bodyPath params.Path) *requestBody {
	var s *schema
	raw := false
	desc := ""
	if bodyPath == nil {
		raw = isHTTPBody(md.Input())
		s = b.lazyRef(md.Input(), raw && !md.IsStreamingClient())
		desc = "The request message; path parameters take precedence over the fields they name."
	} else {
		fd := bodyPath[len(bodyPath)-1]
		raw = !fd.IsList() && !fd.IsMap() && isHTTPBody(fd.Message())
		if !raw || md.IsStreamingClient() {
			s = b.reg.field(fd)
		}
		desc = joinText(comment(fd), "The field "+bodyPath.String()+" of the request message.")
	}
	switch {
	case md.IsStreamingClient():
		desc = joinText(desc, "A stream: one JSON value per line, each one request message; "+
			"path and query parameters apply to every message.")
		return &requestBody{Description: desc, Required: true, Content: map[string]mediaType{ndjson: {Schema: s}}}
	case raw:
		desc = "The raw body, any media type; its Content-Type is passed on with it."
		return &requestBody{Description: desc, Required: true, Content: map[string]mediaType{anyType: {Schema: binarySchema()}}}
	}
	return &requestBody{Description: desc, Content: map[string]mediaType{jsonType: {Schema: s}}}
}

// success describes the success answer: the output or its response_body
// field, as JSON, raw bytes, or a stream in one of three framings.
func (b *builder) success(md protoreflect.MethodDescriptor, responseBody string) (*response, error) {
	out := md.Output()
	raw, s := isHTTPBody(out), (*schema)(nil)
	what := "The response message."
	if responseBody == "" {
		s = b.lazyRef(out, raw)
	} else {
		p, err := params.Resolve(out, responseBody)
		if err != nil {
			return nil, fmt.Errorf("response_body: %w", err)
		}
		fd := p[len(p)-1]
		raw = !fd.IsList() && !fd.IsMap() && isHTTPBody(fd.Message())
		if !raw {
			s = b.reg.field(fd)
		}
		what = "The field " + p.String() + " of the response message."
	}
	switch {
	case raw && md.IsStreamingServer():
		return &response{Description: "The raw bytes of every message, concatenated, with the first one's Content-Type.",
			Content: map[string]mediaType{anyType: {Schema: binarySchema()}}}, nil
	case raw:
		return &response{Description: "The raw body, with its Content-Type.",
			Content: map[string]mediaType{anyType: {Schema: binarySchema()}}}, nil
	case md.IsStreamingServer():
		return &response{
			Description: "A stream of messages, framed as the Accept header asks: NDJSON (the default), " +
				"server-sent events, or one JSON array. An error after the first message is sent in band: " +
				`{"error": Status} in NDJSON and in the array, an "error" event in SSE.`,
			Content: map[string]mediaType{
				ndjson:   {Schema: s},
				sse:      {Schema: &schema{Type: "string", Description: `Events "data: <message JSON>".`}},
				jsonType: {Schema: &schema{Type: "array", Items: s}},
			}}, nil
	}
	return &response{Description: what, Content: map[string]mediaType{jsonType: {Schema: s}}}, nil
}

// lazyRef refers to md unless skip: a raw body needs no message schema.
func (b *builder) lazyRef(md protoreflect.MessageDescriptor, skip bool) *schema {
	if skip {
		return nil
	}
	return b.reg.ref(md)
}

// errorResponse is the answer of every failed call.
func errorResponse() *response {
	return &response{
		Description: "An error: the call's google.rpc.Status, with the HTTP status mapped from its code.",
		Content:     map[string]mediaType{jsonType: {Schema: &schema{Ref: refPrefix + statusName}}},
	}
}
