package server

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"forewarn/internal/lookup"
	"forewarn/internal/metrics"
	"forewarn/internal/store"
)

// refresher rebuilds the lookup index and the indicator gauges after
// indicators changed, one rebuild at a time, coalescing triggers. The
// rebuilds happen in loop, the lookup-index actor: trigger only asks.
type refresher struct {
	st   *store.Store
	look *lookup.Service
	m    *metrics.Metrics
	log  *slog.Logger
	// wake holds at most one request: trigger sends only when it set
	// running, and loop clears running only once the request is served.
	wake chan struct{}

	mu      sync.Mutex
	running bool // a rebuild is asked for or under way
	dirty   bool // and another one after it

	// gen counts the changes this process made or saw, and changed is
	// when the last one happened: with the store's DataVersion they make
	// the exports' validators.
	gen     uint64
	changed time.Time
	// after runs after each rebuild, with the actor's context.
	after func(context.Context)
	// ver is the store's DataVersion the last rebuild started from.
	ver store.DataVersion
}

func newRefresher(st *store.Store, look *lookup.Service, m *metrics.Metrics, log *slog.Logger) *refresher {
	return &refresher{st: st, look: look, m: m, log: log, wake: make(chan struct{}, 1)}
}

// current reports whether the last rebuild, or one under way, covers v.
func (r *refresher) current(v store.DataVersion) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.running || r.ver == v
}

// setAfter makes fn run after each rebuild.
func (r *refresher) setAfter(fn func(context.Context)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.after = fn
}

// version returns the change counter and when it last moved.
func (r *refresher) version() (uint64, time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.gen, r.changed
}

// trigger asks for a rebuild; it never blocks, so runs and handlers may
// call it at any time, even once the actor has stopped.
func (r *refresher) trigger() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.gen++
	r.changed = time.Now().UTC()
	if r.running {
		r.dirty = true
		return
	}
	r.running = true
	select {
	case r.wake <- struct{}{}:
	default: // cannot happen (see wake); never block a caller on it
	}
}

// loop serves rebuild requests until ctx ends.
func (r *refresher) loop(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-r.wake:
		}
		for r.rebuild(ctx) {
		}
	}
}

// rebuild rebuilds once and reports whether another trigger came in the
// meantime and calls for another rebuild.
func (r *refresher) rebuild(ctx context.Context) bool {
	rctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	if v, err := r.st.DataVersion(rctx); err == nil {
		r.mu.Lock()
		r.ver = v
		r.mu.Unlock()
	}
	r.counts(rctx)
	if err := r.look.Rebuild(rctx); err != nil && ctx.Err() == nil {
		r.log.Error("rebuild the lookup index", "err", err)
	}
	cancel()
	r.mu.Lock()
	after := r.after
	r.mu.Unlock()
	if after != nil && ctx.Err() == nil {
		after(ctx)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.dirty || ctx.Err() != nil {
		r.running = false
		return false
	}
	r.dirty = false
	return true
}

func (r *refresher) counts(ctx context.Context) {
	stats, err := r.st.Stats(ctx)
	if err != nil {
		if ctx.Err() == nil {
			r.log.Error("count indicators", "err", err)
		}
		return
	}
	m := map[string]int64{}
	for s, n := range stats.ByStatus {
		m[string(s)] = n
	}
	r.m.SetIndicators(m)
}
