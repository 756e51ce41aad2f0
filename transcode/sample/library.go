package sample

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/bouncer-proxy/bouncer/transcode/grpcsvc"
)

// library is the in-memory state of one sample service. Handlers run on
// many goroutines; mu guards everything below it.
type library struct {
	s *schema

	mu        sync.Mutex
	shelves   []*shelf // in creation order, which is name order
	files     map[string]storedFile
	nextShelf int
	nextBook  int
}

// shelf is a Shelf message (book_count unset) and its books in order.
type shelf struct {
	msg   *dynamicpb.Message
	books []*dynamicpb.Message
}

type storedFile struct {
	contentType string
	data        []byte
}

// Seed data: deterministic, so tests and the docs can rely on it.
var (
	seedShelves = []string{
		`{"name": "shelves/1", "theme": "Fiction"}`,
		`{"name": "shelves/2", "theme": "Science"}`,
	}
	seedBooks = []string{
		`{"name": "shelves/1/books/1", "title": "Dune", "author": "Frank Herbert", "genre": "FICTION",
		  "tags": ["classic", "space"], "pageCount": "412", "published": true,
		  "publishTime": "1965-08-01T00:00:00Z", "labels": {"language": "en"}}`,
		`{"name": "shelves/1/books/2", "title": "Leaves of Grass", "author": "Walt Whitman", "genre": "POETRY",
		  "tags": ["classic"], "pageCount": "145", "published": true, "publishTime": "1855-07-04T00:00:00Z"}`,
		`{"name": "shelves/2/books/3", "title": "A Brief History of Time", "author": "Stephen Hawking",
		  "genre": "SCIENCE", "tags": ["physics"], "pageCount": "256"}`,
	}
)

const readme = "Welcome to the Bouncer sample library.\n"

var bookID = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// newLibrary answers a library holding the seed data.
func newLibrary(s *schema) *library {
	l := &library{s: s, nextShelf: len(seedShelves) + 1, nextBook: len(seedBooks) + 1,
		files: map[string]storedFile{"docs/readme.txt": {"text/plain; charset=utf-8", []byte(readme)}}}
	for _, js := range seedShelves {
		l.shelves = append(l.shelves, &shelf{msg: l.seed(typeShelf, js)})
	}
	for _, js := range seedBooks {
		b := l.seed(typeBook, js)
		sh := l.shelf(shelfOf(str(b, "name")))
		sh.books = append(sh.books, b)
	}
	return l
}

// seed decodes one seed message; the seeds are constants checked by tests.
func (l *library) seed(name protoreflect.FullName, js string) *dynamicpb.Message {
	m := l.s.newMessage(name)
	if err := protojson.Unmarshal([]byte(js), m); err != nil {
		panic(fmt.Sprintf("sample: seed %s: %v", name, err))
	}
	return m
}

// handlers answers every method by its simple name.
func (l *library) handlers() map[string]grpcsvc.Handler {
	return map[string]grpcsvc.Handler{
		"ListShelves":  l.unary(l.listShelves),
		"CreateShelf":  l.unary(l.createShelf),
		"GetShelf":     l.unary(l.getShelf),
		"DeleteShelf":  l.unary(l.deleteShelf),
		"ListBooks":    l.unary(l.listBooks),
		"CreateBook":   l.unary(l.createBook),
		"GetBook":      l.unary(l.getBook),
		"UpdateBook":   l.unary(l.updateBook),
		"DeleteBook":   l.unary(l.deleteBook),
		"PublishBook":  l.unary(l.publishBook),
		"StreamBooks":  l.streamBooks,
		"Watch":        l.watch,
		"CreateBooks":  l.createBooks,
		"Chat":         l.chat,
		"UploadFile":   l.unary(l.uploadFile),
		"DownloadFile": l.unary(l.downloadFile),
		"EchoRaw":      l.unary(l.echoRaw),
		"Echo":         l.unary(l.echo),
		"Fail":         l.unary(l.fail),
		"CountBooks":   l.unary(l.countBooks),
	}
}

// unary adapts a one-request, one-response func to a Handler.
func (l *library) unary(f func(c *grpcsvc.Call, in *dynamicpb.Message) (proto.Message, error)) grpcsvc.Handler {
	return func(c *grpcsvc.Call) error {
		in, err := l.s.recv(c)
		if err != nil {
			return err
		}
		out, err := f(c, in)
		if err != nil {
			return err
		}
		return c.Send(out)
	}
}

// shelf answers the shelf named name, or nil; mu must be held.
func (l *library) shelf(name string) *shelf {
	for _, sh := range l.shelves {
		if str(sh.msg, "name") == name {
			return sh
		}
	}
	return nil
}

// book answers the shelf and index of the book named name; mu must be held.
func (l *library) book(name string) (*shelf, int, error) {
	sh := l.shelf(shelfOf(name))
	if sh == nil {
		return nil, 0, notFound("book", name)
	}
	for i, b := range sh.books {
		if str(b, "name") == name {
			return sh, i, nil
		}
	}
	return nil, 0, notFound("book", name)
}

// answer answers a copy of sh's message with book_count filled in.
func (sh *shelf) answer() *dynamicpb.Message {
	out := clone(sh.msg)
	set(out, "book_count", protoreflect.ValueOfInt64(int64(len(sh.books))))
	return out
}

func (l *library) listShelves(_ *grpcsvc.Call, _ *dynamicpb.Message) (proto.Message, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.s.newMessage(typeListShelves)
	list := out.Mutable(field(out, "shelves")).List()
	for _, sh := range l.shelves {
		list.Append(protoreflect.ValueOfMessage(sh.answer()))
	}
	return out, nil
}

func (l *library) createShelf(_ *grpcsvc.Call, in *dynamicpb.Message) (proto.Message, error) {
	req := msg(in, "shelf")
	if req == nil || str(req, "theme") == "" {
		return nil, badRequest("shelf.theme", "required")
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	sh := &shelf{msg: l.s.newMessage(typeShelf)}
	set(sh.msg, "name", protoreflect.ValueOfString("shelves/"+strconv.Itoa(l.nextShelf)))
	set(sh.msg, "theme", protoreflect.ValueOfString(str(req, "theme")))
	l.nextShelf++
	l.shelves = append(l.shelves, sh)
	return sh.answer(), nil
}

func (l *library) getShelf(_ *grpcsvc.Call, in *dynamicpb.Message) (proto.Message, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	sh := l.shelf(str(in, "name"))
	if sh == nil {
		return nil, notFound("shelf", str(in, "name"))
	}
	return sh.answer(), nil
}

func (l *library) deleteShelf(_ *grpcsvc.Call, in *dynamicpb.Message) (proto.Message, error) {
	name := str(in, "name")
	l.mu.Lock()
	defer l.mu.Unlock()
	sh := l.shelf(name)
	if sh == nil {
		return nil, notFound("shelf", name)
	}
	if len(sh.books) > 0 {
		return nil, withDetails(codes.FailedPrecondition, fmt.Sprintf("shelf %q is not empty", name),
			&errdetails.PreconditionFailure{Violations: []*errdetails.PreconditionFailure_Violation{
				{Type: "NOT_EMPTY", Subject: name, Description: fmt.Sprintf("%d books remain", len(sh.books))},
			}})
	}
	for i, s := range l.shelves {
		if s == sh {
			l.shelves = append(l.shelves[:i], l.shelves[i+1:]...)
			break
		}
	}
	return l.s.newMessage(typeEmpty), nil
}

// shelfOf answers "shelves/x" for "shelves/x/books/y", or "" when name is
// not a book name.
func shelfOf(name string) string {
	parts := strings.Split(name, "/")
	if len(parts) != 4 || parts[0] != "shelves" || parts[1] == "" || parts[2] != "books" || parts[3] == "" {
		return ""
	}
	return "shelves/" + parts[1]
}
