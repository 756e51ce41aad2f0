// Package validate checks transcoded requests against the protovalidate
// (buf.validate) rules declared in an upstream's descriptors, so that an
// invalid request is answered at the edge with the list of violated rules
// and never reaches the gRPC service.
//
// The rules are read from the descriptors fetched at run time (server
// reflection or a protoset): package descriptors decodes options with the
// global type registry, and this package links the buf.validate Go types,
// so the rules are typed extensions on dynamic descriptors. Rules found as
// unknown fields are decoded again by protovalidate; either way the result
// is the same.
package validate

import (
	"errors"
	"fmt"
	"sync"

	"buf.build/go/protovalidate"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/dynamicpb"
)

// Rule identifiers of the violations that report rules which cannot be
// evaluated rather than a request that breaks them. Validation fails closed:
// a message whose rules are broken is never passed as valid.
const (
	// RuleCompileError: the message's rules do not compile (a CEL
	// expression that does not type-check, a rule that does not fit the
	// field's type, a rule unknown to this build of protovalidate).
	RuleCompileError = "compile_error"
	// RuleRuntimeError: a rule failed while being evaluated (a CEL
	// expression that errs on this message).
	RuleRuntimeError = "runtime_error"
)

// Violation is one broken rule.
type Violation struct {
	// Field is the path of the offending field in proto names, dotted
	// through nested messages, with [index] for repeated elements and
	// ["key"] (or [1], [true]) for map entries: "book.title", "tags[2]",
	// `ratings["alice"]`. It is empty for a rule on the message as a whole.
	Field string
	// Rule is the rule's identifier: the standard rule ("string.min_len",
	// "int32.gte", "repeated.min_items", "required", "enum.defined_only",
	// ...), the id of a CEL rule as written in the proto, or
	// RuleCompileError / RuleRuntimeError.
	Rule string
	// Message is a human-readable explanation, never empty.
	Message string
}

// Validator evaluates the buf.validate rules of messages. Rules are
// compiled once per message descriptor and cached by descriptor identity,
// so descriptors of a new schema version never meet evaluators compiled
// for an older one, even when their names are equal.
//
// Build one Validator per descriptors.Set and drop it with the Set: the
// cache keeps every descriptor it has seen alive for the Validator's life,
// so sharing one across refreshes would be correct but would retain every
// old schema. A Validator is safe for concurrent use.
type Validator struct {
	pv  protovalidate.Validator
	has sync.Map // protoreflect.MessageDescriptor -> bool
}

// New makes an empty Validator. types resolves the extensions that the
// upstream's own files declare (descriptors.Set.Types): predefined rules
// (buf.validate.predefined) are such extensions of buf.validate's rule
// messages, and without their declarations they could not be evaluated
// (they fail closed, as RuleCompileError). types may be nil. New fails only
// when the CEL environment cannot be built, which does not depend on any
// input.
func New(types protoregistry.ExtensionTypeResolver) (*Validator, error) {
	var opts []protovalidate.ValidatorOption
	if types != nil {
		opts = append(opts, protovalidate.WithExtensionTypeResolver(types))
	}
	pv, err := protovalidate.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("validate: %w", err)
	}
	return &Validator{pv: pv}, nil
}

// Has reports whether any buf.validate rule applies to messages of md: on
// md itself, its oneofs or fields, or any message reachable through its
// message, repeated and map fields (cycles included). When Has is false,
// Validate always answers nil and the caller can skip it.
//
// The answer is cached per descriptor. The first call that answers true
// also compiles the rules, so calling Has when a method plan is built keeps
// compilation off the request path. Has does not block beyond that
// compilation.
func (v *Validator) Has(md protoreflect.MessageDescriptor) bool {
	if md == nil {
		return false
	}
	if got, ok := v.has.Load(md); ok {
		return got.(bool)
	}
	has := reachesRules(md, map[protoreflect.FullName]bool{})
	if has {
		// Build and cache the evaluator now; the result on an empty
		// message is of no interest.
		_ = v.pv.Validate(dynamicpb.NewMessage(md))
	}
	v.has.Store(md, has)
	return has
}

// Validate checks m against its rules and returns every violation, in the
// order protovalidate reports them (fields in declaration order, message
// rules first), or nil when m is valid. Rules that cannot be compiled or
// evaluated yield a single violation with Rule RuleCompileError or
// RuleRuntimeError. A nil message is valid.
func (v *Validator) Validate(m proto.Message) []Violation {
	if m == nil || !m.ProtoReflect().IsValid() {
		return nil
	}
	err := v.pv.Validate(m)
	if err == nil {
		return nil
	}
	name := m.ProtoReflect().Descriptor().FullName()
	if ve, ok := errors.AsType[*protovalidate.ValidationError](err); ok {
		return violations(ve)
	}
	if _, ok := errors.AsType[*protovalidate.CompilationError](err); ok {
		return []Violation{{Rule: RuleCompileError,
			Message: fmt.Sprintf("the validation rules of %s do not compile: %v", name, err)}}
	}
	return []Violation{{Rule: RuleRuntimeError,
		Message: fmt.Sprintf("the validation rules of %s failed: %v", name, err)}}
}

// violations converts protovalidate's violations.
func violations(ve *protovalidate.ValidationError) []Violation {
	out := make([]Violation, 0, len(ve.Violations))
	for _, pv := range ve.Violations {
		p := pv.Proto
		out = append(out, Violation{
			Field:   protovalidate.FieldPathString(p.GetField()),
			Rule:    p.GetRuleId(),
			Message: message(p.GetMessage(), p.GetRuleId(), p.GetForKey()),
		})
	}
	return out
}

// message completes protovalidate's text: a CEL rule may have none, and a
// map key rule is reported on the entry's path.
func message(text, rule string, forKey bool) string {
	if text == "" {
		text = fmt.Sprintf("rule %q is not satisfied", rule)
	}
	if forKey {
		text = "map key: " + text
	}
	return text
}
