package scheduler

import (
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"time"

	"github.com/go-co-op/gocron/v2"
	"github.com/jonboulle/clockwork"
	"github.com/robfig/cron/v3"

	"forewarn/internal/config"
)

// RunFunc runs the feed once and returns when the run has finished.
type RunFunc func(feed string)

// Scheduler holds one job per enabled feed.
type Scheduler struct {
	s     gocron.Scheduler
	run   RunFunc
	log   *slog.Logger
	clock clockwork.Clock

	mu   sync.Mutex
	jobs map[string]gocron.Job
}

// New returns a started scheduler that calls run for each due feed.
func New(run RunFunc, log *slog.Logger) (*Scheduler, error) {
	return NewWithClock(run, log, clockwork.NewRealClock())
}

// NewWithClock is New with a clock (tests use a fake one).
func NewWithClock(run RunFunc, log *slog.Logger, clock clockwork.Clock) (*Scheduler, error) {
	s, err := gocron.NewScheduler(gocron.WithClock(clock), gocron.WithLocation(time.UTC))
	if err != nil {
		return nil, fmt.Errorf("start the scheduler: %w", err)
	}
	s.Start()
	return &Scheduler{s: s, run: run, log: log, clock: clock, jobs: map[string]gocron.Job{}}, nil
}

// Set schedules feed on sched, replacing its previous job. last is when
// the feed last ran (zero if never): a feed that never ran, or whose next
// run after last is already past, runs now, once.
func (s *Scheduler) Set(feed string, sched config.Schedule, last time.Time) error {
	now := s.clock.Now()
	var def gocron.JobDefinition
	var next time.Time
	switch {
	case sched.Interval > 0:
		def = gocron.DurationJob(sched.Interval)
		if !last.IsZero() {
			next = last.Add(sched.Interval)
		}
	case sched.Cron != "":
		cs, err := cron.ParseStandard(sched.Cron)
		if err != nil {
			return fmt.Errorf("frequency %q: %w", sched.Cron, err)
		}
		def = gocron.CronJob(sched.Cron, false)
		if !last.IsZero() {
			next = cs.Next(last)
		}
	default:
		return errors.New("scheduler: empty schedule")
	}
	opts := []gocron.JobOption{gocron.WithName(feed), gocron.WithSingletonMode(gocron.LimitModeReschedule)}
	switch {
	case !next.After(now):
		// Never ran, or missed while down: run once now, then on schedule.
		opts = append(opts, gocron.WithStartAt(gocron.WithStartImmediately()))
	case sched.Interval > 0:
		opts = append(opts, gocron.WithStartAt(gocron.WithStartDateTime(next)))
		// A cron schedule's first fire after now is next already.
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	s.removeLocked(feed)
	j, err := s.s.NewJob(def, gocron.NewTask(func() {
		s.log.Info("scheduled run due", "feed", feed)
		s.runSafely(feed)
	}), opts...)
	if err != nil {
		return fmt.Errorf("schedule %s: %w", feed, err)
	}
	s.jobs[feed] = j
	return nil
}

// runSafely calls run, logging a panic as an error: gocron would swallow
// it without a word, and the feed's next run must still come.
func (s *Scheduler) runSafely(feed string) {
	defer func() {
		if v := recover(); v != nil {
			buf := make([]byte, 8<<10)
			s.log.Error("scheduled job panicked; the feed stays scheduled", "feed", feed, "panic", fmt.Sprint(v),
				"stack", string(buf[:runtime.Stack(buf, false)]))
		}
	}()
	s.run(feed)
}

// Remove stops the feed's schedule. A run in progress goes on.
func (s *Scheduler) Remove(feed string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.removeLocked(feed)
}

func (s *Scheduler) removeLocked(feed string) {
	if j, ok := s.jobs[feed]; ok {
		if err := s.s.RemoveJob(j.ID()); err != nil && !errors.Is(err, gocron.ErrJobNotFound) {
			s.log.Warn("remove schedule", "feed", feed, "err", err)
		}
		delete(s.jobs, feed)
	}
}

// NextRun returns when the feed runs next, if it is scheduled.
func (s *Scheduler) NextRun(feed string) (time.Time, bool) {
	s.mu.Lock()
	j, ok := s.jobs[feed]
	s.mu.Unlock()
	if !ok {
		return time.Time{}, false
	}
	t, err := j.NextRun()
	if err != nil || t.IsZero() {
		return time.Time{}, false
	}
	return t, true
}

// Shutdown stops the scheduler. It waits for running jobs, so cancel the
// runs first.
func (s *Scheduler) Shutdown() error { return s.s.Shutdown() }
