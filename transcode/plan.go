package transcode

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/bouncer-proxy/bouncer/configs"
	"github.com/bouncer-proxy/bouncer/transcode/descriptors"
	"github.com/bouncer-proxy/bouncer/transcode/httprule"
	"github.com/bouncer-proxy/bouncer/transcode/params"
	"github.com/bouncer-proxy/bouncer/transcode/validate"
)

// Where a binding came from, for `bouncer routes` and the OpenAPI document.
const (
	sourceAnnotation = "annotation"
	sourceConfig     = "config"
	sourceAuto       = "auto"
)

// bodyKind is what a binding fills from the request body.
type bodyKind uint8

const (
	bodyNone  bodyKind = iota // no body: everything from the path and query
	bodyAll                   // body "*": the whole request message
	bodyField                 // body "field": one field
)

const httpBodyName = "google.api.HttpBody"

// binding is one HTTP method and path template bound to a gRPC method,
// with everything resolved that can be: the per-request work is a router
// lookup and filling a message.
type binding struct {
	method     protoreflect.MethodDescriptor
	grpcPath   string // "/package.Service/Method"
	httpMethod string
	tmpl       *httprule.Template
	source     string

	vars     map[string]params.Path // by the template's field path text
	body     bodyKind
	bodyPath params.Path // bodyField: the field
	bodyRaw  bool        // the body fills a google.api.HttpBody as raw bytes
	respPath params.Path // response_body; nil: the whole message
	respRaw  bool        // the response body is a google.api.HttpBody
	query    *params.QueryDecoder

	in, out  protoreflect.MessageType
	status   int
	retryOK  bool // idempotent by its HTTP method or its idempotency_level
	validate bool // the request type has protovalidate rules and validation is on
}

// rule is one binding before resolution, from any source.
type rule struct {
	httpMethod, path, body, responseBody string
	status                               int
	source                               string
}

// table is one immutable generation of a transcode route's bindings.
type table struct {
	router   *httprule.Router[*binding]
	set      *descriptors.Set
	bindings []*binding      // in a stable order, for listing
	methods  map[string]bool // "/package.Service/Method" of every exposed method
	// validator checks request messages against their protovalidate rules
	// (nil: off); one per descriptor set, so refreshed rules never meet
	// rules compiled for the old descriptors.
	validator *validate.Validator

	docOnce sync.Once // the OpenAPI document, built on first request
	doc     []byte
	docErr  error
}

// planOptions is what building a table needs from the route.
type planOptions struct {
	cfg     *configs.TranscodeAction
	retries func(httpMethod string) bool // the route's retry policy
}

// buildTable resolves every binding of the services in set. Problems with
// one binding (a bad template, an unknown field, a duplicate) are returned
// and that binding is left out; the others are served.
func buildTable(set *descriptors.Set, o planOptions) (*table, []error) {
	t := &table{set: set, methods: map[string]bool{}}
	var b httprule.Builder[*binding]
	var errs []error
	if o.cfg.Validate {
		v, err := validate.New(set.Types)
		if err != nil {
			errs = append(errs, fmt.Errorf("request validation is off: %w", err))
		}
		t.validator = v
	}
	configRules := rulesBySelector(o.cfg.Rules)
	for _, sd := range set.Services {
		if !serviceWanted(o.cfg.Services, sd) {
			continue
		}
		methods := sd.Methods()
		for i := range methods.Len() {
			md := methods.Get(i)
			t.methods["/"+string(sd.FullName())+"/"+string(md.Name())] = true
			for _, r := range methodRules(md, o.cfg, configRules[string(md.FullName())]) {
				bd, err := resolve(md, r, o)
				if err == nil && t.validator != nil {
					bd.validate = t.validator.Has(md.Input()) // compiles the rules now, not on a request
				}
				if err == nil {
					err = b.Add(bd.httpMethod, bd.tmpl, bd)
				}
				if err != nil {
					errs = append(errs, fmt.Errorf("%s %s %s (%s): %w", md.FullName(), r.httpMethod, r.path, r.source, err))
					continue
				}
				t.bindings = append(t.bindings, bd)
			}
		}
	}
	for sel := range configRules {
		if _, err := set.Files.FindDescriptorByName(protoreflect.FullName(sel)); err != nil {
			errs = append(errs, fmt.Errorf("rule for %s: no such method in the upstream's descriptors", sel))
		}
	}
	t.router = b.Build()
	return t, errs
}

func serviceWanted(list []string, sd protoreflect.ServiceDescriptor) bool {
	return len(list) == 0 || slices.Contains(list, string(sd.FullName()))
}

func rulesBySelector(rules []configs.HTTPRule) map[string][]configs.HTTPRule {
	m := map[string][]configs.HTTPRule{}
	for _, r := range rules {
		m[r.Selector] = append(m[r.Selector], r)
	}
	return m
}

// methodRules lists the bindings of md: annotated ones (unless turned off
// or overridden), configured ones, and the automatic POST.
func methodRules(md protoreflect.MethodDescriptor, cfg *configs.TranscodeAction, configured []configs.HTTPRule) []rule {
	var out []rule
	override := slices.ContainsFunc(configured, func(r configs.HTTPRule) bool { return r.Override })
	if cfg.Annotations && !override {
		out = append(out, annotatedRules(md)...)
	}
	for _, cr := range configured {
		for _, hb := range cr.Bindings {
			method, path := BindingPattern(hb)
			out = append(out, rule{httpMethod: method, path: path, body: hb.Body, responseBody: hb.ResponseBody,
				status: hb.SuccessStatus, source: sourceConfig})
		}
	}
	if cfg.AutoPost {
		out = append(out, rule{httpMethod: http.MethodPost, path: "/" + string(md.Parent().FullName()) + "/" + string(md.Name()),
			body: "*", status: http.StatusOK, source: sourceAuto})
	}
	return out
}

// BindingPattern is a configured binding's HTTP method and path template.
func BindingPattern(hb configs.HTTPBinding) (method, path string) {
	switch {
	case hb.Get != "":
		return http.MethodGet, hb.Get
	case hb.Put != "":
		return http.MethodPut, hb.Put
	case hb.Post != "":
		return http.MethodPost, hb.Post
	case hb.Delete != "":
		return http.MethodDelete, hb.Delete
	case hb.Patch != "":
		return http.MethodPatch, hb.Patch
	case hb.Custom != nil:
		return hb.Custom.Kind, hb.Custom.Path
	}
	return "", ""
}

// annotatedRules reads the google.api.http option of md.
func annotatedRules(md protoreflect.MethodDescriptor) []rule {
	opts, ok := md.Options().(*descriptorpb.MethodOptions)
	if !ok || opts == nil {
		return nil
	}
	if !proto.HasExtension(opts, annotations.E_Http) && len(opts.ProtoReflect().GetUnknown()) > 0 {
		// The option arrived as unknown bytes (decoded before the
		// extension was known): decode again with the linked types.
		b, err := proto.Marshal(opts)
		again := &descriptorpb.MethodOptions{}
		if err != nil || proto.Unmarshal(b, again) != nil {
			return nil
		}
		opts = again
	}
	if !proto.HasExtension(opts, annotations.E_Http) {
		return nil
	}
	hr, _ := proto.GetExtension(opts, annotations.E_Http).(*annotations.HttpRule)
	if hr == nil {
		return nil
	}
	out := []rule{fromHTTPRule(hr)}
	for _, ab := range hr.GetAdditionalBindings() {
		out = append(out, fromHTTPRule(ab))
	}
	return out
}

func fromHTTPRule(hr *annotations.HttpRule) rule {
	r := rule{body: hr.GetBody(), responseBody: hr.GetResponseBody(), status: http.StatusOK, source: sourceAnnotation}
	switch p := hr.GetPattern().(type) {
	case *annotations.HttpRule_Get:
		r.httpMethod, r.path = http.MethodGet, p.Get
	case *annotations.HttpRule_Put:
		r.httpMethod, r.path = http.MethodPut, p.Put
	case *annotations.HttpRule_Post:
		r.httpMethod, r.path = http.MethodPost, p.Post
	case *annotations.HttpRule_Delete:
		r.httpMethod, r.path = http.MethodDelete, p.Delete
	case *annotations.HttpRule_Patch:
		r.httpMethod, r.path = http.MethodPatch, p.Patch
	case *annotations.HttpRule_Custom:
		r.httpMethod, r.path = p.Custom.GetKind(), p.Custom.GetPath()
	}
	return r
}

// resolve turns a rule into a binding: template parsed, every field path
// resolved against the request and response types.
func resolve(md protoreflect.MethodDescriptor, r rule, o planOptions) (*binding, error) {
	if r.httpMethod == "" || r.path == "" {
		return nil, errors.New("the rule has no HTTP method and path")
	}
	tmpl, err := httprule.Parse(r.path)
	if err != nil {
		return nil, err
	}
	in, out := md.Input(), md.Output()
	b := &binding{method: md, grpcPath: "/" + string(md.Parent().FullName()) + "/" + string(md.Name()),
		httpMethod: r.httpMethod, tmpl: tmpl, source: r.source, vars: map[string]params.Path{},
		in: dynamicpb.NewMessageType(in), out: dynamicpb.NewMessageType(out), status: r.status}
	if b.status == 0 {
		b.status = http.StatusOK
	}
	var bound []params.Path
	for _, v := range tmpl.Vars() {
		p, err := params.Resolve(in, v.FieldPath)
		if err != nil {
			return nil, fmt.Errorf("path variable %s: %w", v.FieldPath, err)
		}
		if leaf := p[len(p)-1]; leaf.IsList() {
			return nil, fmt.Errorf("path variable %s: must be a singular field", v.FieldPath)
		} else if err := params.Settable(leaf); err != nil {
			return nil, fmt.Errorf("path variable %s: %w", v.FieldPath, err)
		}
		b.vars[v.FieldPath] = p
		bound = append(bound, p)
	}
	if err := b.resolveBody(in, r.body, &bound); err != nil {
		return nil, err
	}
	if r.responseBody != "" {
		p, err := params.Resolve(out, r.responseBody)
		if err != nil {
			return nil, fmt.Errorf("response_body %s: %w", r.responseBody, err)
		}
		b.respPath = p
		if leaf := p[len(p)-1]; leaf.Kind() == protoreflect.MessageKind && !leaf.IsList() && !leaf.IsMap() && leaf.Message().FullName() == httpBodyName {
			b.respRaw = true
		}
	} else {
		b.respRaw = out.FullName() == httpBodyName
	}
	if b.body != bodyAll {
		b.query = params.NewQueryDecoder(in, bound, o.cfg.Strict)
	}
	b.retryOK = o.retries != nil && o.retries(b.httpMethod) || idempotent(md)
	if md.IsStreamingClient() && b.body == bodyNone {
		return nil, errors.New("a client-streaming method needs a body")
	}
	return b, nil
}

func (b *binding) resolveBody(in protoreflect.MessageDescriptor, body string, bound *[]params.Path) error {
	switch body {
	case "":
		b.body = bodyNone
	case "*":
		b.body = bodyAll
		b.bodyRaw = in.FullName() == httpBodyName
	default:
		p, err := params.Resolve(in, body)
		if err != nil {
			return fmt.Errorf("body %s: %w", body, err)
		}
		b.body, b.bodyPath = bodyField, p
		leaf := p[len(p)-1]
		b.bodyRaw = leaf.Kind() == protoreflect.MessageKind && !leaf.IsList() && !leaf.IsMap() && leaf.Message().FullName() == httpBodyName
		*bound = append(*bound, p)
	}
	if b.bodyRaw && b.body == bodyAll {
		// The whole message is the raw body; path variables may still
		// fill other fields, but HttpBody has none to fill.
		if len(b.vars) > 0 {
			return errors.New("body \"*\" of type google.api.HttpBody leaves no field for path variables")
		}
	}
	return nil
}

// idempotent reports a method marked NO_SIDE_EFFECTS or IDEMPOTENT.
func idempotent(md protoreflect.MethodDescriptor) bool {
	opts, ok := md.Options().(*descriptorpb.MethodOptions)
	if !ok || opts == nil {
		return false
	}
	lvl := opts.GetIdempotencyLevel()
	return lvl == descriptorpb.MethodOptions_NO_SIDE_EFFECTS || lvl == descriptorpb.MethodOptions_IDEMPOTENT
}
