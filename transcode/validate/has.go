package validate

import (
	"buf.build/go/protovalidate"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// reachesRules reports whether md, or a message reachable from it through
// message-typed fields (map entries included), declares a buf.validate
// rule. seen holds the messages already visited on this walk, so cycles
// end; a message met again adds nothing new.
//
// An option that cannot be decoded counts as a rule: Validate then reports
// the failure instead of passing the message unchecked.
func reachesRules(md protoreflect.MessageDescriptor, seen map[protoreflect.FullName]bool) bool {
	if seen[md.FullName()] {
		return false
	}
	seen[md.FullName()] = true
	if declaresRules(md) {
		return true
	}
	fields := md.Fields()
	for i := range fields.Len() {
		// A map field's Message is its entry, whose value field leads on.
		if sub := fields.Get(i).Message(); sub != nil && reachesRules(sub, seen) {
			return true
		}
	}
	return false
}

// declaresRules reports whether md itself, one of its oneofs or one of its
// fields carries a buf.validate option.
func declaresRules(md protoreflect.MessageDescriptor) bool {
	if r, err := protovalidate.ResolveMessageRules(md); err != nil || r != nil {
		return true
	}
	oneofs := md.Oneofs()
	for i := range oneofs.Len() {
		if r, err := protovalidate.ResolveOneofRules(oneofs.Get(i)); err != nil || r != nil {
			return true
		}
	}
	fields := md.Fields()
	for i := range fields.Len() {
		if r, err := protovalidate.ResolveFieldRules(fields.Get(i)); err != nil || r != nil {
			return true
		}
	}
	return false
}
