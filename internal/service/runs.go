package service

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"forewarn/internal/activity"
	"forewarn/internal/runner"
	"forewarn/internal/store"
)

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// RunRequest is a person's request for a run: its window as typed (a date
// such as 2026-01-31 or an RFC 3339 time; empty: the feed's own window)
// and whether it is a dry run.
type RunRequest struct {
	Since, Until string
	DryRun       bool
}

// ErrNoRunner is returned by StartRun where runs are not started in the
// background.
var ErrNoRunner = errors.New("runs are started by forewarn serve here: use forewarn run instead")

// StartRun starts a manual run of the feed and returns it once recorded.
// A feed already running in this process (a dry run included) or in
// another is a *store.InProgressError.
func (s *Service) StartRun(ctx context.Context, a Actor, name string, req RunRequest) (*runner.Active, error) {
	if err := s.checkAnyFeed(ctx, name); err != nil {
		return nil, err
	}
	if IsListFeed(name) && (req.DryRun || req.Since != "" || req.Until != "") {
		return nil, invalid("feed", "%s is a list feed: it has no date window nor dry run; run it without them", name)
	}
	since, err1 := ParseTime("since", req.Since)
	until, err2 := ParseTime("until", req.Until)
	if err := joinInvalid(err1, err2); err != nil {
		return nil, err
	}
	if since != nil && until != nil && !since.Before(*until) {
		return nil, invalid("until", "%s is not after since %s", until.Format(time.RFC3339), since.Format(time.RFC3339))
	}
	if s.d.Runner == nil {
		return nil, ErrNoRunner
	}
	// A dry run takes no feed lock (it writes nothing), so the lock alone
	// lets a run start beside one: one run at a time per feed is decided
	// here, for the API, the UI and every kind of run.
	s.starting.Lock()
	defer s.starting.Unlock()
	if cur, ok := s.d.Runner.Running(name); ok && !s.finishing(ctx, cur) {
		return nil, &store.InProgressError{Feed: name, RunID: cur.ID}
	}
	run, err := s.d.Runner.Start(name, runner.Request{Trigger: activity.TriggerManual, Since: since, Until: until, DryRun: req.DryRun})
	if err != nil {
		return nil, err
	}
	detail := ""
	if req.DryRun {
		detail = "dry run"
	}
	s.record(ctx, a, "run.start", name+" run "+itoa(run.ID), detail)
	return run, nil
}

// finishWait bounds how long StartRun waits for a run that has been
// recorded as finished but is still releasing its lock.
const finishWait = 10 * time.Second

// finishing reports whether cur, still in the runner, is already recorded
// as finished, and waits (up to finishWait) until it has let go of the
// feed. Without it a "Run now" right after a run ended could be refused as
// "already in progress" while the activity log shows the run finished.
func (s *Service) finishing(ctx context.Context, cur *runner.Active) bool {
	r, err := s.d.Store.Run(ctx, cur.ID)
	if err != nil || r.Status == activity.StatusRunning {
		return false
	}
	t := time.NewTimer(finishWait)
	defer t.Stop()
	select {
	case <-cur.Done():
		return true
	case <-t.C:
		return false
	case <-ctx.Done():
		return false
	}
}

// CancelRun cancels a run this process is running. The run rolls back and
// is recorded as canceled. A run that is not running, or runs in another
// process, is a conflict (wrapping store.ErrConflict).
func (s *Service) CancelRun(ctx context.Context, a Actor, id int64) (activity.Run, error) {
	run, err := s.d.Store.Run(ctx, id)
	if err != nil {
		return run, err
	}
	if run.Status != activity.StatusRunning {
		return run, conflict("run %d is not running: it is %s", id, run.Status)
	}
	if s.d.Runner == nil || !s.d.Runner.Cancel(id) {
		return run, conflict("run %d is running in another process (pid %d on %s): cancel it there", id, run.PID, run.Host)
	}
	s.record(ctx, a, "run.cancel", run.Feed+" run "+itoa(id), "")
	return run, nil
}

// ParseTime reads an optional time as a person types it: a date (midnight
// UTC) or an RFC 3339 time. Empty is nil.
func ParseTime(field, v string) (*time.Time, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return nil, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			t = t.UTC()
			return &t, nil
		}
	}
	return nil, invalid(field, "must be a date (2026-01-31) or an RFC 3339 time (2026-01-31T12:00:00Z), not %q", v)
}

// joinInvalid merges validation errors into one naming every field; any
// other error is returned as is.
func joinInvalid(errs ...error) error {
	var out ValidationError
	for _, err := range errs {
		if err == nil {
			continue
		}
		var ve *ValidationError
		if !errors.As(err, &ve) {
			return err
		}
		out.Fields = append(out.Fields, ve.Fields...)
	}
	if len(out.Fields) == 0 {
		return nil
	}
	return &out
}
