package descriptors

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/types/descriptorpb"
)

// logRecorder keeps every log record as one line of text.
type logRecorder struct {
	mu    sync.Mutex
	lines []string
}

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logRecorder) WithGroup(string) slog.Handler            { return l }
func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	line := r.Level.String() + " " + r.Message
	r.Attrs(func(a slog.Attr) bool {
		line += fmt.Sprintf(" %s=%v", a.Key, a.Value)
		return true
	})
	l.mu.Lock()
	l.lines = append(l.lines, line)
	l.mu.Unlock()
	return nil
}

// take returns the lines logged at level WARN since the last call.
func (l *logRecorder) takeWarnings() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, s := range l.lines {
		if strings.HasPrefix(s, "WARN ") {
			out = append(out, s)
		}
	}
	l.lines = nil
	return out
}

var (
	schemaV1 = thingsFile("bouncer/test/v1/things.proto", []string{"GetThing"})
	schemaV2 = thingsFile("bouncer/test/v1/things.proto", []string{"GetThing", "ListThings"})
)

// methods is the number of methods of the served Things service, which
// tells schemaV1 (1) from schemaV2 (2).
func methods(s *Set) int {
	if s == nil || len(s.Services) == 0 {
		return 0
	}
	return s.Services[0].Methods().Len()
}

func refresh(t *testing.T, w *Watcher) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return w.Refresh(ctx)
}

func TestWatcherOnChangeOnlyOnChange(t *testing.T) {
	sch := newSchema(t, schemaV1)
	u := startUpstream(t, upstreamConfig{schema: sch})
	changes := make(chan *Set, 8)
	w := NewWatcher(WatcherConfig{
		Endpoints:   func() []string { return []string{u.addr} },
		MinInterval: time.Nanosecond,
		OnChange:    func(s *Set) { changes <- s },
	})
	defer w.Stop()

	steps := []struct {
		name        string
		serve       *descriptorpb.FileDescriptorProto
		wantChange  bool
		wantMethods int
	}{
		{"first success", schemaV1, true, 1},
		{"unchanged", schemaV1, false, 1},
		{"method added", schemaV2, true, 2},
		{"unchanged again", schemaV2, false, 2},
	}
	for _, st := range steps {
		sch.swap(t, st.serve)
		if err := refresh(t, w); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		select {
		case s := <-changes:
			if !st.wantChange {
				t.Fatalf("%s: OnChange called for an unchanged set", st.name)
			}
			if s != w.Current() || methods(s) != st.wantMethods {
				t.Fatalf("%s: OnChange got %d methods, current %p, set %p", st.name, methods(s), w.Current(), s)
			}
		default: // OnChange runs before Refresh returns
			if st.wantChange {
				t.Fatalf("%s: OnChange not called", st.name)
			}
		}
		stat := w.Status()
		if len(stat) != 1 || stat[0].Address != u.addr || stat[0].Digest != w.Current().Digest ||
			stat[0].Err != "" || stat[0].FetchedAt.IsZero() {
			t.Fatalf("%s: status = %+v", st.name, stat)
		}
	}
}

func TestWatcherKeepsLastGoodSet(t *testing.T) {
	u := startUpstream(t, upstreamConfig{schema: newSchema(t, schemaV1)})
	changes := 0
	w := NewWatcher(WatcherConfig{
		Endpoints:   func() []string { return []string{u.addr} },
		Options:     Options{Timeout: 2 * time.Second},
		MinInterval: time.Nanosecond,
		OnChange:    func(*Set) { changes++ },
	})
	defer w.Stop()
	if err := refresh(t, w); err != nil {
		t.Fatal(err)
	}
	good := w.Current()
	u.srv.Stop()
	if err := refresh(t, w); err == nil {
		t.Fatal("refresh from a stopped server succeeded")
	}
	if w.Current() != good || changes != 1 {
		t.Errorf("served set %p (want %p), %d changes (want 1)", w.Current(), good, changes)
	}
	if st := w.Status(); len(st) != 1 || st[0].Err == "" || st[0].Digest != "" {
		t.Errorf("status = %+v, want the failure", st)
	}

	empty := NewWatcher(WatcherConfig{Endpoints: func() []string { return nil }})
	defer empty.Stop()
	if err := refresh(t, empty); err == nil || !strings.Contains(err.Error(), "no endpoints") {
		t.Errorf("err = %v, want no endpoints", err)
	}
}

func TestWatcherMajority(t *testing.T) {
	const down = "down"
	v1, v2 := "v1", "v2"
	tests := []struct {
		name     string
		rounds   [][]string // what each endpoint serves, per round
		want     int        // methods served after the last round
		wantSkew bool       // last round warns about skew
		wantErr  bool       // last round reports a failed endpoint
	}{
		{"all agree", [][]string{{v1, v1}}, 1, false, false},
		{"majority wins", [][]string{{v2, v1, v1}}, 1, true, false},
		{"majority of the new", [][]string{{v1, v2, v2}}, 2, true, false},
		{"tie in a first round: endpoint order", [][]string{{v1, v2}}, 1, true, false},
		{"tie in a first round: endpoint order, reversed", [][]string{{v2, v1}}, 2, true, false},
		{"tie: the newest digest wins", [][]string{{v1, v1}, {v1, v2}}, 2, true, false},
		{"failed endpoint does not vote", [][]string{{down, v2}}, 2, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := len(tt.rounds[0])
			schemas := make([]*schema, n)
			addrs := make([]string, n)
			for i, v := range tt.rounds[0] {
				if v == down {
					addrs[i] = refusedAddr(t)
					continue
				}
				schemas[i] = newSchema(t, schemaV1)
				addrs[i] = startUpstream(t, upstreamConfig{schema: schemas[i]}).addr
			}
			logs := &logRecorder{}
			w := NewWatcher(WatcherConfig{
				Endpoints:   func() []string { return addrs },
				Options:     Options{Timeout: 2 * time.Second},
				MinInterval: time.Nanosecond,
				Logger:      slog.New(logs),
			})
			defer w.Stop()
			var err error
			for _, round := range tt.rounds {
				for i, v := range round {
					switch v {
					case v1:
						schemas[i].swap(t, schemaV1)
					case v2:
						schemas[i].swap(t, schemaV2)
					}
				}
				logs.takeWarnings()
				err = refresh(t, w)
			}
			if got := methods(w.Current()); got != tt.want {
				t.Errorf("served %d methods, want %d", got, tt.want)
			}
			if (err != nil) != tt.wantErr {
				t.Errorf("err = %v, want error %v", err, tt.wantErr)
			}
			warned := false
			for _, line := range logs.takeWarnings() {
				if strings.Contains(line, "version skew") {
					warned = true
					for i, st := range w.Status() {
						if !strings.Contains(line, addrs[i]+"="+st.Digest) {
							t.Errorf("warning %q does not name %s with its digest", line, addrs[i])
						}
					}
				}
			}
			if warned != tt.wantSkew {
				t.Errorf("skew warning %v, want %v", warned, tt.wantSkew)
			}
		})
	}
}

func TestWatcherRefreshRateLimitAndSharing(t *testing.T) {
	u := startUpstream(t, upstreamConfig{schema: newSchema(t, schemaV1)})
	gate := make(chan struct{})
	u.gate.Store(&gate)
	w := NewWatcher(WatcherConfig{
		Endpoints:   func() []string { return []string{u.addr} },
		MinInterval: time.Hour,
	})
	defer w.Stop()

	first := make(chan error, 1)
	go func() { first <- w.Refresh(context.Background()) }()
	<-u.entered // the round is in flight, held by the server

	// A caller arriving now joins the round: it waits for it rather than
	// returning at once or starting another.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	err := w.Refresh(ctx)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("joining caller got %v, want it to wait for the shared round", err)
	}
	joined := make(chan error, 4)
	for range 4 {
		go func() { joined <- w.Refresh(context.Background()) }()
	}
	for range 100 {
		w.RequestRefresh()
	}
	close(gate)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	for range 4 {
		if err := <-joined; err != nil {
			t.Fatal(err)
		}
	}
	// Within MinInterval of the last round: no new fetch, the last result.
	for range 10 {
		w.RequestRefresh()
		if err := refresh(t, w); err != nil {
			t.Fatal(err)
		}
	}
	if n := u.count(); n != 1 {
		t.Errorf("%d reflection streams, want 1", n)
	}
	if w.Current() == nil {
		t.Error("no set after the shared round")
	}
	if got := NewWatcher(WatcherConfig{}).cfg.MinInterval; got != DefaultMinInterval {
		t.Errorf("default MinInterval = %v", got)
	}
}

func TestWatcherStartAndStop(t *testing.T) {
	sch := newSchema(t, schemaV1)
	u := startUpstream(t, upstreamConfig{schema: sch})
	changes := make(chan *Set, 8)
	w := NewWatcher(WatcherConfig{
		Endpoints:   func() []string { return []string{u.addr} },
		Interval:    10 * time.Millisecond,
		MinInterval: time.Nanosecond,
		OnChange:    func(s *Set) { changes <- s },
	})
	w.Start(context.Background())
	w.Start(context.Background()) // a second Start does nothing
	wait := func(want int) {
		t.Helper()
		select {
		case s := <-changes:
			if methods(s) != want {
				t.Fatalf("change to %d methods, want %d", methods(s), want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no change to %d methods", want)
		}
	}
	wait(1)
	sch.swap(t, schemaV2) // picked up by a periodic round
	wait(2)
	w.Stop()
	if err := w.Refresh(context.Background()); !errors.Is(err, ErrStopped) {
		t.Errorf("refresh after stop: %v", err)
	}
	if methods(w.Current()) != 2 {
		t.Error("the last set is gone after Stop")
	}
}

func TestWatcherProtoset(t *testing.T) {
	dir := t.TempDir()
	base := closure(annotations.File_google_api_annotations_proto)
	path := writeProtoset(t, dir, append(base, schemaV1)...)
	changes := make(chan *Set, 4)
	w := NewWatcher(WatcherConfig{Protoset: path, MinInterval: time.Nanosecond, OnChange: func(s *Set) { changes <- s }})
	defer w.Stop()
	for _, step := range []struct {
		file *descriptorpb.FileDescriptorProto
		want int
	}{{schemaV1, 1}, {schemaV2, 2}} {
		writeProtoset(t, dir, append(base, step.file)...)
		if err := refresh(t, w); err != nil {
			t.Fatal(err)
		}
		s := <-changes
		if methods(s) != step.want {
			t.Fatalf("%d methods, want %d", methods(s), step.want)
		}
		if st := w.Status(); len(st) != 1 || st[0].Address != path || st[0].Digest != s.Digest {
			t.Errorf("status = %+v", st)
		}
	}
}
