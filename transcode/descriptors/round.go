package descriptors

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// fetchParallel bounds the endpoints fetched at once in a round.
const fetchParallel = 4

// result is what one endpoint (or the protoset) gave in a round.
type result struct {
	addr string
	set  *Set
	err  error
	at   time.Time
}

// runRound fetches from every source, records their status, and serves
// the chosen Set if its digest differs from the served one.
func (w *Watcher) runRound(ctx context.Context) error {
	w.rounds++
	results := w.fetchAll(ctx)
	statuses := make([]EndpointStatus, len(results))
	var errs []error
	for i, r := range results {
		statuses[i] = EndpointStatus{Address: r.addr, FetchedAt: r.at}
		if r.err != nil {
			statuses[i].Err = r.err.Error()
			errs = append(errs, r.err)
			continue
		}
		statuses[i].Digest = r.set.Digest
	}
	w.status.Store(&statuses)
	if len(results) == 0 {
		err := errors.New("descriptors: no endpoints to fetch from")
		w.log.Warn("descriptors refresh failed", "error", err)
		return err
	}
	chosen := w.choose(results)
	if chosen == nil {
		err := errors.Join(errs...)
		w.log.Warn("descriptors refresh failed, keeping the last good set", "error", err)
		return err
	}
	if prev := w.cur.Load(); prev == nil || prev.Digest != chosen.Digest {
		w.cur.Store(chosen)
		w.log.Info("descriptors changed", "digest", chosen.Digest, "services", len(chosen.Services))
		if w.cfg.OnChange != nil {
			w.cfg.OnChange(chosen)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("descriptors: %d of %d endpoints failed: %w", len(errs), len(results), errors.Join(errs...))
	}
	return nil
}

// fetchAll fetches from every endpoint, a few at a time, or loads the
// protoset. Results are in endpoint order.
func (w *Watcher) fetchAll(ctx context.Context) []result {
	if w.cfg.Protoset != "" {
		set, err := LoadProtoset(w.cfg.Protoset)
		return []result{{addr: w.cfg.Protoset, set: set, err: err, at: time.Now()}}
	}
	var addrs []string
	if w.cfg.Endpoints != nil {
		addrs = w.cfg.Endpoints()
	}
	results := make([]result, len(addrs))
	sem := make(chan struct{}, fetchParallel)
	var wg sync.WaitGroup
	for i, addr := range addrs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			set, err := Fetch(ctx, addr, w.cfg.Options)
			results[i] = result{addr: addr, set: set, err: err, at: time.Now()}
			<-sem
		}()
	}
	wg.Wait()
	return results
}

// choose picks the Set to serve from a round's results, nil if every
// fetch failed. The rule: each endpoint that answered votes for its
// digest, and the digest with the most votes wins. A tie goes to the
// digest first seen most recently, so that a rollout reaching half of the
// endpoints moves the served schema forward; between digests first seen
// in the same round, the one whose first endpoint comes first in endpoint
// order wins. Failed endpoints do not vote. When the endpoints disagree (a
// rollout in progress, or a stray old instance) a warning names every
// endpoint with its digest.
func (w *Watcher) choose(results []result) *Set {
	type tally struct {
		set   *Set
		votes int
	}
	tallies := map[string]*tally{}
	var order []string // digests in order of first endpoint
	for _, r := range results {
		if r.err != nil {
			continue
		}
		t, ok := tallies[r.set.Digest]
		if !ok {
			t = &tally{set: r.set}
			tallies[r.set.Digest] = t
			order = append(order, r.set.Digest)
		}
		t.votes++
	}
	seen := make(map[string]uint64, len(order))
	for _, d := range order {
		n, ok := w.firstSeen[d]
		if !ok {
			n = w.rounds
		}
		seen[d] = n
	}
	w.firstSeen = seen
	var best string
	for _, d := range order {
		if best == "" || tallies[d].votes > tallies[best].votes ||
			tallies[d].votes == tallies[best].votes && seen[d] > seen[best] {
			best = d
		}
	}
	if len(order) > 1 {
		w.warnSkew(results, best)
	}
	if best == "" {
		return nil
	}
	return tallies[best].set
}

// warnSkew logs the endpoints and the digests they serve.
func (w *Watcher) warnSkew(results []result, served string) {
	serving := make([]string, 0, len(results))
	for _, r := range results {
		if r.err == nil {
			serving = append(serving, r.addr+"="+r.set.Digest)
		}
	}
	w.log.Warn("descriptors differ between endpoints (version skew, a rollout in progress?)",
		slog.Any("endpoints", serving), slog.String("served", served))
}
