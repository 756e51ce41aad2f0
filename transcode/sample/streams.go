package sample

import (
	"errors"
	"fmt"
	"io"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/bouncer-proxy/bouncer/transcode/grpcsvc"
)

// Event kinds of WatchEvent.Kind.
const eventAdded protoreflect.EnumNumber = 1

// streamBooks sends the books a ListBooks call would answer, one per message.
func (l *library) streamBooks(c *grpcsvc.Call) error {
	in, err := l.s.recv(c)
	if err != nil {
		return err
	}
	all, err := l.matching(in)
	if err != nil {
		return err
	}
	books, _, err := page(in, all)
	if err != nil {
		return err
	}
	for _, b := range books {
		if err := c.Send(b); err != nil {
			return err
		}
	}
	return nil
}

// watch sends one ADDED event per book on the shelf, at most max_events.
func (l *library) watch(c *grpcsvc.Call) error {
	in, err := l.s.recv(c)
	if err != nil {
		return err
	}
	limit := num(in, "max_events")
	if limit < 0 {
		return badRequest("max_events", "must not be negative")
	}
	all, err := l.matching(l.listRequest(str(in, "name")))
	if err != nil {
		return err
	}
	for i, b := range all {
		if limit > 0 && int64(i) >= limit {
			break
		}
		ev := l.s.newMessage(typeWatchEvent)
		set(ev, "sequence", protoreflect.ValueOfInt64(int64(i+1)))
		set(ev, "kind", protoreflect.ValueOfEnum(eventAdded))
		set(ev, "book", protoreflect.ValueOfMessage(b))
		if err := c.Send(ev); err != nil {
			return err
		}
	}
	return nil
}

// listRequest answers a ListBooksRequest for every book of parent.
func (l *library) listRequest(parent string) *dynamicpb.Message {
	req := l.s.newMessage(typeListBooksRequest)
	set(req, "parent", protoreflect.ValueOfString(parent))
	return req
}

// createBooks creates each book received; the first failure aborts the
// call with its status, the index of the request in the message, and the
// books created before it are kept.
func (l *library) createBooks(c *grpcsvc.Call) error {
	out := l.s.newMessage(typeCreateBooks)
	list := out.Mutable(field(out, "books")).List()
	for i := 0; ; i++ {
		in, err := l.s.recv(c)
		if errors.Is(err, io.EOF) {
			return c.Send(out)
		}
		if err != nil {
			return err
		}
		b, err := l.create(in)
		if err != nil {
			st := status.Convert(err)
			p := st.Proto()
			p.Message = fmt.Sprintf("request %d: %s", i, st.Message())
			return status.ErrorProto(p)
		}
		list.Append(protoreflect.ValueOfMessage(b))
	}
}

// chat answers every message with an echo, until the client closes.
func (l *library) chat(c *grpcsvc.Call) error {
	for {
		in, err := l.s.recv(c)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if str(in, "text") == "" {
			return status.Error(codes.InvalidArgument, "chat: empty text")
		}
		out := l.s.newMessage(typeChat)
		set(out, "user", protoreflect.ValueOfString("library"))
		set(out, "text", protoreflect.ValueOfString("echo: "+str(in, "text")))
		if err := c.Send(out); err != nil {
			return err
		}
	}
}
