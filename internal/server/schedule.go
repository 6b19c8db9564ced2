package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"forewarn/internal/activity"
	"forewarn/internal/config"
	"forewarn/internal/runner"
	"forewarn/internal/scheduler"
	"forewarn/internal/store"
)

// schedule keeps the scheduler in step with the stored feed state, and
// starts the runs it calls for.
type schedule struct {
	st    *store.Store
	mgr   *runner.Manager
	log   *slog.Logger
	feeds []string // the feeds syncEvery looks at
	// lists knows the list feeds (nil: only feeds are scheduled).
	lists listFeeds
	// s is nil until start: no job exists, so none fires, before then.
	s *scheduler.Scheduler
	// ctx ends when the scheduler actor is interrupted: the jobs, which
	// run on the scheduler's own goroutines, read the store with it.
	ctx    context.Context
	cancel context.CancelFunc
	// wake tells the scheduler actor that a job asked for its feed to be
	// rescheduled (a job cannot reschedule itself from its own goroutine).
	wake chan struct{}

	mu sync.Mutex
	// seen is, per feed, the scheduling state last applied.
	seen map[string]string
	// pending are the feeds waiting for the actor to reschedule them.
	pending map[string]bool
}

// listFeeds is what the schedule needs to know of the list feeds
// (*service.Service).
type listFeeds interface {
	ListFeedIDs(ctx context.Context) ([]string, error)
	ListFeedSchedule(ctx context.Context, id string) (schedule string, enabled bool, err error)
}

// names are the feeds to schedule: Seclytics and every list feed.
func (sc *schedule) names(ctx context.Context) ([]string, error) {
	if sc.lists == nil {
		return sc.feeds, nil
	}
	ids, err := sc.lists.ListFeedIDs(ctx)
	if err != nil {
		return sc.feeds, err
	}
	names := append(slices.Clone(sc.feeds), ids...)
	// A feed scheduled before but gone since (a custom definition another
	// instance removed) is looked at once more, to unschedule it.
	sc.mu.Lock()
	for name := range sc.seen {
		if !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	sc.mu.Unlock()
	return names, nil
}

// state is a feed's stored scheduling state: its frequency, whether it is
// configured and enabled.
func (sc *schedule) state(ctx context.Context, name string) (freq string, installed, enabled bool, err error) {
	if sc.lists != nil && !slices.Contains(sc.feeds, name) {
		freq, enabled, err = sc.lists.ListFeedSchedule(ctx, name)
		if errors.Is(err, store.ErrNotFound) {
			return "", false, false, nil // a custom definition removed
		}
		return freq, enabled, enabled, err
	}
	cfg, st, err := sc.st.FeedConfig(ctx, name)
	return cfg.Frequency, st.Installed, st.Enabled, err
}

func newSchedule(st *store.Store, mgr *runner.Manager, feeds []string, log *slog.Logger) *schedule {
	ctx, cancel := context.WithCancel(context.Background())
	return &schedule{st: st, mgr: mgr, log: log, feeds: feeds, ctx: ctx, cancel: cancel,
		wake: make(chan struct{}, 1), seen: map[string]string{}, pending: map[string]bool{}}
}

// start starts the scheduler and schedules every feed. After it, a job
// may fire at any time, so only the scheduler actor stops it.
func (sc *schedule) start(ctx context.Context) error {
	s, err := scheduler.New(sc.fire, sc.log)
	if err != nil {
		return err
	}
	sc.s = s
	names, err := sc.names(ctx)
	if err != nil {
		sc.log.Error("list feeds not scheduled", "err", err)
	}
	for _, name := range names {
		if err := sc.Reschedule(ctx, name); err != nil {
			sc.log.Error("feed not scheduled", "feed", name, "err", err)
		}
	}
	return nil
}

// loop reschedules the feeds jobs asked for until ctx ends, then stops
// the scheduler, which waits for the jobs in progress.
func (sc *schedule) loop(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			sc.cancel()
			if err := sc.s.Shutdown(); err != nil {
				sc.log.Warn("scheduler shutdown", "err", err)
			}
			return nil
		case <-sc.wake:
		}
		sc.mu.Lock()
		names := sc.pending
		sc.pending = map[string]bool{}
		sc.mu.Unlock()
		for name := range names {
			if err := sc.Reschedule(ctx, name); err != nil && ctx.Err() == nil {
				sc.log.Error("feed not rescheduled", "feed", name, "err", err)
			}
		}
	}
}

// fire is the scheduler's job: it starts a run of the feed and waits for
// it, so that the scheduler never overlaps two runs of one feed.
func (sc *schedule) fire(name string) {
	if sc.ctx.Err() != nil {
		return // serve is stopping: no new run
	}
	// Another instance sharing the store may have run the feed on this
	// same schedule: the store's last run decides.
	if due, next, err := sc.due(sc.ctx, name); err == nil && !due {
		sc.log.Info("scheduled run skipped: the feed already ran on this schedule (another instance?)", "feed", name, "next", next)
		sc.mu.Lock()
		sc.pending[name] = true
		sc.mu.Unlock()
		select {
		case sc.wake <- struct{}{}:
		default: // a wake-up is already pending; it sees this feed too
		}
		return
	}
	a, err := sc.mgr.Start(name, runner.Request{Trigger: activity.TriggerSchedule})
	var ip *store.InProgressError
	switch {
	case errors.As(err, &ip):
		sc.log.Info("scheduled run skipped: the feed is running", "feed", name, "err", err)
	case err != nil:
		sc.log.Error("scheduled run did not start", "feed", name, "err", err)
	default:
		// The runs actor cancels the run on shutdown; not waiting past
		// that keeps the scheduler's shutdown independent of the grace.
		select {
		case <-a.Done():
		case <-sc.ctx.Done():
		}
	}
}

// syncEvery polls the store for changes other processes made: a
// DataVersion the last rebuild did not cover triggers a rebuild, and a feed
// whose installed, enabled or frequency state changed is rescheduled.
func syncEvery(ctx context.Context, st *store.Store, sc *schedule, interval time.Duration, ref *refresher, log *slog.Logger) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		v, err := st.DataVersion(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			log.Warn("read the store's version", "err", err)
		case err == nil && !ref.current(v):
			log.Info("indicators changed by another process; refreshing the lookup index")
			ref.trigger()
		}
		names, err := sc.names(ctx)
		if err != nil && ctx.Err() == nil {
			log.Warn("list feeds not read", "err", err)
		}
		for _, name := range names {
			if err := sc.Sync(ctx, name); err != nil && ctx.Err() == nil {
				log.Warn("feed not rescheduled", "feed", name, "err", err)
			}
		}
	}
}

// Sync reschedules the feed if its stored scheduling state (installed,
// enabled, frequency) differs from the one last applied.
func (sc *schedule) Sync(ctx context.Context, name string) error {
	freq, installed, enabled, err := sc.state(ctx, name)
	if err != nil {
		return err
	}
	sc.mu.Lock()
	same := sc.seen[name] == schedKey(freq, installed, enabled)
	sc.mu.Unlock()
	if same {
		return nil
	}
	return sc.Reschedule(ctx, name)
}

func schedKey(freq string, installed, enabled bool) string {
	return fmt.Sprintf("%v/%v/%s", installed, enabled, freq)
}

// lastRun is when the feed's last run that was not a dry run started
// (zero if none).
func (sc *schedule) lastRun(ctx context.Context, name string) (time.Time, error) {
	runs, err := sc.st.Runs(ctx, name, 50)
	if err != nil {
		return time.Time{}, err
	}
	for _, r := range runs {
		if !r.DryRun {
			return r.StartedAt, nil
		}
	}
	return time.Time{}, nil
}

// dueSlack absorbs a timer firing a little early.
const dueSlack = 5 * time.Second

// due reports whether the feed's schedule, counted from its last run in
// the store, calls for a run now, and when the next one is due.
func (sc *schedule) due(ctx context.Context, name string) (bool, time.Time, error) {
	f, _, _, err := sc.state(ctx, name)
	if err != nil {
		return false, time.Time{}, err
	}
	freq, err := config.ParseFrequency(f)
	if err != nil {
		return false, time.Time{}, err
	}
	last, err := sc.lastRun(ctx, name)
	if err != nil || last.IsZero() {
		return true, time.Time{}, err
	}
	next, err := freq.Next(last)
	if err != nil {
		return false, time.Time{}, err
	}
	return !next.After(time.Now().Add(dueSlack)), next, nil
}

func (sc *schedule) NextRun(name string) (time.Time, bool) { return sc.s.NextRun(name) }

// Reschedule schedules the feed if it is installed and enabled, from its
// last run that was not a dry run, or removes its schedule.
func (sc *schedule) Reschedule(ctx context.Context, name string) error {
	f, installed, enabled, err := sc.state(ctx, name)
	if err != nil {
		return err
	}
	if !installed || !enabled {
		sc.s.Remove(name)
		sc.mu.Lock()
		sc.seen[name] = schedKey(f, installed, enabled)
		sc.mu.Unlock()
		return nil
	}
	freq, err := config.ParseFrequency(f)
	if err != nil {
		return err
	}
	last, err := sc.lastRun(ctx, name)
	if err != nil {
		return err
	}
	if err := sc.s.Set(name, freq, last); err != nil {
		return err
	}
	sc.mu.Lock()
	sc.seen[name] = schedKey(f, installed, enabled)
	sc.mu.Unlock()
	return nil
}
