package openapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/bouncer-proxy/bouncer/transcode/httprule"
)

// Operation is one binding of a transcode route: an HTTP method and path
// template bound to a gRPC method.
type Operation struct {
	HTTPMethod   string                        // GET, POST, ... or a custom one
	Template     *httprule.Template            // the path template
	Method       protoreflect.MethodDescriptor // the gRPC method
	Body         string                        // "", "*", or a field path of the input
	ResponseBody string                        // "" or a field path of the output
	Status       int                           // success status; 0 means 200
}

// Options shape the document.
type Options struct {
	Title, Version string // info.title and info.version; defaults when empty
	// UseProtoNames names JSON properties and query parameters by proto
	// field names instead of json_name (lowerCamelCase), as the route's
	// marshalling does.
	UseProtoNames bool
	// EmitDefaults says, in info.description, that responses carry fields
	// with default values, as the route's marshalling (protojson
	// EmitUnpopulated) does; it also lets unset fields with presence
	// (messages, optional scalars) outside oneofs be null, as written then.
	EmitDefaults bool
}

// Build describes ops as an OpenAPI 3.1 document in JSON. The output
// depends only on its inputs: paths and schema names are sorted,
// properties follow field order, and the operations of one gRPC method are
// numbered in the order of ops (the first gets operationId
// package.Service.Method, the next ones _1, _2, ... appended). It fails on
// an Operation without template or method, a template variable, body or
// response_body that names no field of its message, and two Operations
// with the same HTTP method and template. Build is safe for concurrent use.
func Build(ops []Operation, o Options) ([]byte, error) {
	b := &builder{reg: newRegistry(o), o: o}
	doc, err := b.document(ops)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("openapi: encode: %w", err)
	}
	return buf.Bytes(), nil
}

// builder holds the state of one Build.
type builder struct {
	reg *registry
	o   Options
}

// document is the root of an OpenAPI document.
type document struct {
	OpenAPI    string                    `json:"openapi"`
	Info       info                      `json:"info"`
	Tags       []tag                     `json:"tags,omitempty"`
	Paths      map[string]map[string]any `json:"paths"`
	Components components                `json:"components"`
}

type info struct {
	Title       string `json:"title"`
	Version     string `json:"version"`
	Description string `json:"description,omitempty"`
}

type tag struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
}

type components struct {
	Schemas map[string]*schema `json:"schemas"`
}

// standardMethods are the HTTP methods with a fixed field in a path item.
var standardMethods = map[string]bool{"GET": true, "PUT": true, "POST": true, "DELETE": true,
	"OPTIONS": true, "HEAD": true, "PATCH": true, "TRACE": true}

// additionalKey is the path item extension holding other methods.
const additionalKey = "x-additionalOperations"

func (b *builder) document(ops []Operation) (*document, error) {
	for i, op := range ops {
		if op.Template == nil || op.Method == nil || op.HTTPMethod == "" {
			return nil, fmt.Errorf("openapi: operation %d: %w", i, errIncomplete)
		}
	}
	doc := &document{OpenAPI: "3.1.0", Info: b.info(), Paths: map[string]map[string]any{},
		Components: components{Schemas: b.reg.schemas}}
	keys := pathKeys(ops)
	ids := operationIDs(ops)
	services := map[string]protoreflect.ServiceDescriptor{}
	for i, op := range ops {
		sp := split(op.Template)
		key := keys[op.Template.String()]
		o, err := b.operation(op, ids[i], sp, sp.withSuffix(key.suffix))
		if err != nil {
			return nil, fmt.Errorf("openapi: %s %s: %w", op.HTTPMethod, op.Template, err)
		}
		if err := place(doc.Paths, key.path, op.HTTPMethod, o); err != nil {
			return nil, fmt.Errorf("openapi: %w", err)
		}
		if sd, ok := op.Method.Parent().(protoreflect.ServiceDescriptor); ok {
			services[string(sd.FullName())] = sd
		}
	}
	doc.Tags = tags(services)
	return doc, nil
}

var errIncomplete = errors.New("an operation needs an HTTP method, a template and a gRPC method")

func (b *builder) info() info {
	in := info{Title: b.o.Title, Version: b.o.Version,
		Description: "REST/JSON bindings of gRPC methods, transcoded by Bouncer. " +
			"Errors are google.rpc.Status objects."}
	if in.Title == "" {
		in.Title = "Transcoded gRPC API"
	}
	if in.Version == "" {
		in.Version = "unversioned"
	}
	if b.o.EmitDefaults {
		in.Description += " Responses include fields that hold their default values."
	} else {
		in.Description += " Responses leave out fields that hold their default values."
	}
	return in
}

// place enters o under path and method, refusing a second operation there.
func place(paths map[string]map[string]any, path, method string, o *operation) error {
	item := paths[path]
	if item == nil {
		item = map[string]any{}
		paths[path] = item
	}
	key := strings.ToLower(method)
	target := item
	if !standardMethods[strings.ToUpper(method)] {
		extra, _ := item[additionalKey].(map[string]any)
		if extra == nil {
			extra = map[string]any{}
			item[additionalKey] = extra
		}
		key, target = method, extra
	}
	if _, dup := target[key]; dup {
		return fmt.Errorf("two operations for %s %s", method, path)
	}
	target[key] = o
	return nil
}

// pathKey is where a template lives in paths, and the suffix its
// parameter names got to keep the path distinct.
type pathKey struct {
	path, suffix string
}

// pathKeys gives every distinct template its OpenAPI path. Templates are
// taken shortest first (then by text) and a template whose path is taken
// by another gets "_1", "_2", ... on its parameter names.
func pathKeys(ops []Operation) map[string]pathKey {
	byText := map[string]*httprule.Template{}
	for _, op := range ops {
		byText[op.Template.String()] = op.Template
	}
	texts := make([]string, 0, len(byText))
	for s := range byText {
		texts = append(texts, s)
	}
	sort.Slice(texts, func(i, j int) bool {
		if len(texts[i]) != len(texts[j]) {
			return len(texts[i]) < len(texts[j])
		}
		return texts[i] < texts[j]
	})
	taken := map[string]bool{}
	out := map[string]pathKey{}
	for _, text := range texts {
		sp := split(byText[text])
		key := pathKey{path: sp.render("")}
		for n := 1; taken[key.path]; n++ {
			if len(sp.vars) == 0 { // equal literal paths are equal templates
				break
			}
			key.suffix = "_" + strconv.Itoa(n)
			key.path = sp.render(key.suffix)
		}
		taken[key.path] = true
		out[text] = key
	}
	return out
}

// operationIDs numbers the operations of each gRPC method in order.
func operationIDs(ops []Operation) []string {
	seen := map[protoreflect.FullName]int{}
	out := make([]string, len(ops))
	for i, op := range ops {
		name := op.Method.FullName()
		out[i] = string(name)
		if n := seen[name]; n > 0 {
			out[i] += "_" + strconv.Itoa(n)
		}
		seen[name]++
	}
	return out
}

// tags lists the services, by name, with their comments.
func tags(services map[string]protoreflect.ServiceDescriptor) []tag {
	out := make([]tag, 0, len(services))
	for name, sd := range services {
		out = append(out, tag{Name: name, Description: comment(sd)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
