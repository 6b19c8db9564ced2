package runner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"time"

	"forewarn/internal/activity"
	"forewarn/internal/feed"
)

// Request is what a caller asks of one run.
type Request struct {
	Trigger string
	Since   *time.Time
	Until   *time.Time
	DryRun  bool
}

// Active is a run in progress.
type Active struct {
	ID       int64
	Feed     string
	Progress *feed.Progress
	cancel   context.CancelFunc
	done     chan struct{}
}

// Done is closed when the run has finished and been recorded.
func (a *Active) Done() <-chan struct{} { return a.done }

// ErrClosed is returned once the manager is shutting down.
var ErrClosed = errors.New("forewarn is shutting down: no new runs are started")

// Manager starts runs and tracks the ones in progress.
type Manager struct {
	st  feed.Store
	log *slog.Logger
	// Options is the base of every run's options (tests shorten the
	// backoff); Trigger, Since, Until, DryRun, Progress and OnStart are set
	// per run.
	opts feed.Options
	// finished is called after every run that was recorded, from the run's
	// goroutine: metrics, the lookup index.
	finished func(*activity.Run, error)
	// list runs a list feed (every feed but Seclytics); nil: none.
	list ListRunFunc

	base   context.Context
	stop   context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	closed bool
	active map[int64]*Active
}

// New returns a manager whose runs use st. finished may be nil.
func New(st feed.Store, log *slog.Logger, opts feed.Options, finished func(*activity.Run, error)) *Manager {
	base, stop := context.WithCancel(context.Background())
	if finished == nil {
		finished = func(*activity.Run, error) {}
	}
	return &Manager{st: st, log: log, opts: opts, finished: finished, base: base, stop: stop, active: map[int64]*Active{}}
}

// ListRunFunc runs list feed name once, calling onStart once the run is
// recorded (service.Service.ListRun).
type ListRunFunc func(ctx context.Context, name, trigger string, onStart func(*activity.Run)) (*activity.Run, error)

// RunListFeeds makes the manager run every feed but Seclytics with f.
// Call it before the first Start.
func (m *Manager) RunListFeeds(f ListRunFunc) { m.list = f }

// Start starts a run of the feed and returns once it is recorded, or with
// the error that kept it from starting: a *store.InProgressError when the
// feed is already running (here or in another process), a configuration
// error wrapping feed.ErrConfig.
func (m *Manager) Start(feedName string, req Request) (*Active, error) {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil, ErrClosed
	}
	m.wg.Add(1)
	m.mu.Unlock()

	ctx, cancel := context.WithCancel(m.base)
	a := &Active{Feed: feedName, Progress: &feed.Progress{}, cancel: cancel, done: make(chan struct{})}
	started := make(chan error, 1)
	o := m.opts
	o.Trigger, o.Since, o.Until, o.DryRun, o.Progress = req.Trigger, req.Since, req.Until, req.DryRun, a.Progress
	o.Logger = m.log
	var recorded *activity.Run // set once the run is in the store
	o.OnStart = func(r *activity.Run) {
		recorded = r
		a.ID = r.ID
		m.mu.Lock()
		m.active[r.ID] = a
		m.mu.Unlock()
		started <- nil
	}
	go func() {
		defer m.wg.Done()
		defer cancel()
		defer close(a.done)
		r, err := m.runSafely(ctx, func(ctx context.Context) (*activity.Run, error) {
			if feedName != feed.Name {
				if m.list == nil {
					return nil, fmt.Errorf("feed %s: this process runs no list feeds", feedName)
				}
				return m.list(ctx, feedName, req.Trigger, o.OnStart)
			}
			return feed.Run(ctx, m.st, o)
		}, func() *activity.Run { return recorded })
		if r == nil { // it never started
			if err == nil {
				err = errors.New("the run did not start")
			}
			started <- err
			return
		}
		m.mu.Lock()
		delete(m.active, r.ID)
		m.mu.Unlock()
		if err != nil {
			m.log.Warn("run failed", "run_id", r.ID, "feed", feedName, "status", r.Status, "err", err)
		}
		m.finished(r, err)
	}()
	if err := <-started; err != nil {
		return nil, err
	}
	return a, nil
}

// Get returns the run in progress with that id.
func (m *Manager) Get(id int64) (*Active, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	a, ok := m.active[id]
	return a, ok
}

// Running returns the feed's run in progress in this process.
func (m *Manager) Running(feedName string) (*Active, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, a := range m.active {
		if a.Feed == feedName {
			return a, true
		}
	}
	return nil, false
}

// Cancel cancels the run with that id and reports whether this process was
// running it. The run rolls back and is recorded as canceled.
func (m *Manager) Cancel(id int64) bool {
	a, ok := m.Get(id)
	if ok {
		a.cancel()
	}
	return ok
}

// Shutdown refuses new runs, cancels the ones in progress and waits until
// they are rolled back and recorded, or until ctx ends.
func (m *Manager) Shutdown(ctx context.Context) error {
	m.mu.Lock()
	m.closed = true
	m.mu.Unlock()
	m.stop()
	done := make(chan struct{})
	go func() { m.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// ErrPanicked is wrapped by the error of a run that stopped on a panic.
var ErrPanicked = errors.New("the run stopped on an internal error (a panic, logged with its stack): this is a bug in forewarn, please report it")

// runSafely runs the feed and turns a panic into a failed run, recorded as
// such once the run is in the store (recorded returns it), so that a bug
// in one run neither stops serve nor leaves a run "running" for ever. The
// run's own defers (feed lock, transaction) unwind before this one.
func (m *Manager) runSafely(ctx context.Context, run func(context.Context) (*activity.Run, error), recorded func() *activity.Run) (r *activity.Run, err error) {
	defer func() {
		v := recover()
		if v == nil {
			return
		}
		buf := make([]byte, 8<<10)
		buf = buf[:runtime.Stack(buf, false)]
		// The panic value stays in the log: the run record is readable
		// with a read key.
		m.log.Error("run panicked", "panic", fmt.Sprint(v), "stack", string(buf))
		err = ErrPanicked
		if r = recorded(); r == nil {
			return
		}
		now := time.Now().UTC()
		r.Status, r.FinishedAt, r.Error = activity.StatusFailed, &now, err.Error()
		if ferr := m.st.FinishRun(context.WithoutCancel(ctx), r); ferr != nil {
			err = errors.Join(err, fmt.Errorf("record the run as failed: %w", ferr))
		}
	}()
	return run(ctx)
}
