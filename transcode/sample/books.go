package sample

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/bouncer-proxy/bouncer/transcode/grpcsvc"
)

// matching answers copies of the books selected by a ListBooksRequest
// (parent, tags, genre, filter), before paging.
func (l *library) matching(req *dynamicpb.Message) ([]*dynamicpb.Message, error) {
	parent := str(req, "parent")
	l.mu.Lock()
	defer l.mu.Unlock()
	shelves := l.shelves
	if parent != "" {
		sh := l.shelf(parent)
		if sh == nil {
			return nil, notFound("shelf", parent)
		}
		shelves = []*shelf{sh}
	}
	var out []*dynamicpb.Message
	for _, sh := range shelves {
		for _, b := range sh.books {
			if selects(req, b) {
				out = append(out, clone(b))
			}
		}
	}
	return out, nil
}

// selects reports whether book passes the filters of a ListBooksRequest.
func selects(req, book *dynamicpb.Message) bool {
	tags := stringList(book, "tags")
	for _, t := range stringList(req, "tags") {
		if !slices.Contains(tags, t) {
			return false
		}
	}
	if g := req.Get(field(req, "genre")).Enum(); g != 0 && g != book.Get(field(book, "genre")).Enum() {
		return false
	}
	f := msg(req, "filter")
	if f == nil {
		return true
	}
	if a := str(f, "author"); a != "" && !strings.EqualFold(a, str(book, "author")) {
		return false
	}
	if num(book, "page_count") < num(f, "min_pages") {
		return false
	}
	if after := msg(f, "published_after"); after != nil {
		pt := msg(book, "publish_time")
		if pt == nil || !timeOf(pt).After(timeOf(after)) {
			return false
		}
	}
	return true
}

// page cuts books per page_size and page_token (an offset in decimal).
func page(req *dynamicpb.Message, books []*dynamicpb.Message) ([]*dynamicpb.Message, string, error) {
	size := num(req, "page_size")
	if size < 0 {
		return nil, "", badRequest("page_size", "must not be negative")
	}
	start := 0
	if tok := str(req, "page_token"); tok != "" {
		n, err := strconv.Atoi(tok)
		if err != nil || n < 0 || n > len(books) {
			return nil, "", badRequest("page_token", "not a token from a previous answer")
		}
		start = n
	}
	end := len(books)
	if size > 0 && start+int(size) < end {
		end = start + int(size)
	}
	next := ""
	if end < len(books) {
		next = strconv.Itoa(end)
	}
	return books[start:end], next, nil
}

func (l *library) listBooks(_ *grpcsvc.Call, in *dynamicpb.Message) (proto.Message, error) {
	all, err := l.matching(in)
	if err != nil {
		return nil, err
	}
	books, next, err := page(in, all)
	if err != nil {
		return nil, err
	}
	out := l.s.newMessage(typeListBooks)
	list := out.Mutable(field(out, "books")).List()
	for _, b := range books {
		list.Append(protoreflect.ValueOfMessage(b))
	}
	set(out, "next_page_token", protoreflect.ValueOfString(next))
	set(out, "total_size", protoreflect.ValueOfInt64(int64(len(all))))
	return out, nil
}

func (l *library) createBook(_ *grpcsvc.Call, in *dynamicpb.Message) (proto.Message, error) {
	return l.create(in)
}

// create adds the book of a CreateBookRequest and answers a copy of it.
func (l *library) create(in *dynamicpb.Message) (*dynamicpb.Message, error) {
	req := msg(in, "book")
	if req == nil || str(req, "title") == "" {
		return nil, badRequest("book.title", "required")
	}
	id := str(in, "book_id")
	if id != "" && !bookID.MatchString(id) {
		return nil, badRequest("book_id", "must match "+bookID.String())
	}
	parent := str(in, "parent")
	l.mu.Lock()
	defer l.mu.Unlock()
	sh := l.shelf(parent)
	if sh == nil {
		return nil, notFound("shelf", parent)
	}
	name := parent + "/books/" + id
	switch {
	case id != "" && l.taken(sh, name):
		return nil, status.Errorf(codes.AlreadyExists, "book %q already exists", name)
	case id == "":
		for name == parent+"/books/" || l.taken(sh, name) {
			name = parent + "/books/" + strconv.Itoa(l.nextBook)
			l.nextBook++
		}
	}
	b := clone(req.Interface().(*dynamicpb.Message))
	set(b, "name", protoreflect.ValueOfString(name))
	b.Clear(field(b, "published"))
	sh.books = append(sh.books, b)
	return clone(b), nil
}

// taken reports whether sh holds a book named name; mu must be held.
func (l *library) taken(sh *shelf, name string) bool {
	return slices.ContainsFunc(sh.books, func(b *dynamicpb.Message) bool { return str(b, "name") == name })
}

func (l *library) getBook(_ *grpcsvc.Call, in *dynamicpb.Message) (proto.Message, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	sh, i, err := l.book(str(in, "name"))
	if err != nil {
		return nil, err
	}
	return clone(sh.books[i]), nil
}

// immutable lists the Book fields an update may not set.
var immutable = []string{"name", "published"}

func (l *library) updateBook(_ *grpcsvc.Call, in *dynamicpb.Message) (proto.Message, error) {
	req := msg(in, "book")
	if req == nil {
		return nil, badRequest("book", "required")
	}
	var paths []string
	if mask := msg(in, "update_mask"); mask != nil {
		paths = stringList(mask, "paths")
	}
	fields := req.Descriptor().Fields()
	for _, p := range paths {
		if fields.ByName(protoreflect.Name(p)) == nil || slices.Contains(immutable, p) {
			return nil, badRequest("update_mask", fmt.Sprintf("%q is not an updatable field of Book", p))
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	sh, i, err := l.book(str(req, "name"))
	if err != nil {
		return nil, err
	}
	b := sh.books[i]
	if len(paths) == 0 {
		req.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
			if !slices.Contains(immutable, string(fd.Name())) {
				b.Set(fd, v)
			}
			return true
		})
	}
	for _, p := range paths {
		fd := fields.ByName(protoreflect.Name(p))
		if req.Has(fd) {
			b.Set(fd, req.Get(fd))
		} else {
			b.Clear(fd)
		}
	}
	sh.books[i] = clone(b)
	return clone(b), nil
}

func (l *library) deleteBook(_ *grpcsvc.Call, in *dynamicpb.Message) (proto.Message, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	sh, i, err := l.book(str(in, "name"))
	if err != nil {
		return nil, err
	}
	sh.books = slices.Delete(sh.books, i, i+1)
	return l.s.newMessage(typeEmpty), nil
}

// publishBook marks a book published at publish_time, or now when unset.
func (l *library) publishBook(_ *grpcsvc.Call, in *dynamicpb.Message) (proto.Message, error) {
	when := time.Now().UTC().Truncate(time.Second)
	if pt := msg(in, "publish_time"); pt != nil {
		when = timeOf(pt)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	sh, i, err := l.book(str(in, "name"))
	if err != nil {
		return nil, err
	}
	b := sh.books[i]
	set(b, "published", protoreflect.ValueOfBool(true))
	setTime(b, "publish_time", when)
	return clone(b), nil
}
