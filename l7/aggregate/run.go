package aggregate

import (
	"context"
	"net/http"
	"slices"
	"strings"

	"github.com/bouncer-proxy/bouncer/l7"
)

// run is one request's execution of the plan. Its scheduler (ServeHTTP's
// goroutine) owns results; each call goroutine returns its result over
// done and reads only the results of its finished dependencies.
type run struct {
	a       *Aggregator
	req     *http.Request
	ctx     context.Context // the request's, with the Timeout; cancelled when decided
	vals    reqValues
	rid     string
	info    *l7.Info // template of the sub-requests' Info copies; nil without one
	results []*result
	done    chan finished
}

type finished struct {
	call int
	res  *result
}

func newRun(a *Aggregator, r *http.Request, ctx context.Context) *run {
	s := &run{
		a: a, req: r, ctx: ctx,
		vals:    reqValues{r: r},
		results: make([]*result, len(a.calls)),
		done:    make(chan finished, len(a.calls)), // late calls never block
	}
	if a.usesQuery {
		s.vals.query = r.URL.Query()
	}
	if a.usesPath && a.pathVars != nil {
		s.vals.pathVars = a.pathVars(r)
		if s.vals.pathVars == nil {
			s.vals.pathVars = map[string]string{}
		}
	}
	s.rid = r.Header.Get(a.ridHeader)
	if parent := l7.InfoFrom(r.Context()); parent != nil {
		s.vals.id = parent.Identity
		s.rid = cmpOr(parent.RequestID, s.rid)
		s.info = &l7.Info{
			Route: parent.Route, RequestID: parent.RequestID, Client: parent.Client,
			ClientCert: parent.ClientCert, Identity: parent.Identity,
		}
	}
	return s
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// schedule runs the calls, each as soon as its dependencies succeeded,
// and returns when all have ended, when the answer is decided by a
// required call failing in "fail" mode, or when the context ends. It
// returns the index of the call that fails the whole answer, or -1.
func (s *run) schedule() int {
	waiting := make([]int, len(s.a.calls))
	for i, p := range s.a.calls {
		waiting[i] = len(p.deps)
	}
	for _, i := range s.a.roots {
		s.start(i)
	}
	left := len(s.a.calls)
	for left > 0 {
		select {
		case f := <-s.done:
			s.results[f.call] = f.res
			left -= 1 + s.settle(f.call, waiting)
			if !s.a.partial && f.res.failed && left > 0 {
				if i := s.requiredFailure(); i >= 0 {
					return i
				}
			}
		case <-s.ctx.Done():
			for i, res := range s.results {
				if res == nil {
					s.results[i] = s.a.requestTimeout()
				}
			}
			left = 0
		}
	}
	if s.a.partial {
		return -1
	}
	return s.requiredFailure()
}

// requestTimeout is the failure of a call the request's deadline ended.
func (a *Aggregator) requestTimeout() *result {
	if a.timeout == 0 {
		return failure(http.StatusGatewayTimeout, "request timed out") // a deadline set before this terminal
	}
	return failure(http.StatusGatewayTimeout, "request timed out after %s", a.timeout)
}

func (s *run) start(i int) {
	go func() { s.done <- finished{i, s.runCall(i)} }()
}

// settle starts the dependents of call i that were waiting only for it,
// or skips them (and theirs) when it failed. It returns how many calls it
// skipped.
func (s *run) settle(i int, waiting []int) int {
	skipped := 0
	failed := s.results[i].failed
	for _, j := range s.a.calls[i].dependents {
		if s.results[j] != nil {
			continue // skipped already, for another dependency
		}
		if failed {
			s.results[j] = failure(http.StatusFailedDependency, "dependency %s failed", s.a.calls[i].name)
			skipped += 1 + s.settle(j, waiting)
			continue
		}
		if waiting[j]--; waiting[j] == 0 {
			s.start(j)
		}
	}
	return skipped
}

// requiredFailure is the first failed non-optional call, preferring one
// that failed itself over one skipped for a dependency; -1 when none.
func (s *run) requiredFailure() int {
	skip := -1
	for i, res := range s.results {
		if res == nil || !res.failed || s.a.calls[i].optional {
			continue
		}
		if res.status != http.StatusFailedDependency {
			return i
		}
		if skip < 0 {
			skip = i
		}
	}
	return skip
}

// foldInfo adds the finished sub-requests' tries and upstream time to
// the client request's Info and names the upstreams they reached.
func (s *run) foldInfo() {
	parent := l7.InfoFrom(s.req.Context())
	if parent == nil {
		return
	}
	var names []string
	for _, res := range s.results {
		if res == nil || res.info == nil {
			continue
		}
		parent.Tries += res.info.Tries
		parent.UpstreamTime += res.info.UpstreamTime
		if u := res.info.Upstream; u != "" && !slices.Contains(names, u) {
			names = append(names, u)
		}
	}
	if parent.Upstream == "" && len(names) > 0 {
		parent.Upstream = strings.Join(names, ",")
	}
}
