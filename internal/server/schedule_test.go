package server

import (
	"log/slog"
	"testing"
	"time"

	"forewarn/internal/activity"
	"forewarn/internal/config"
	"forewarn/internal/feed"
	"forewarn/internal/store"
	"forewarn/internal/testutil/pgtest"
)

// TestScheduledRunIsDueOnlyOnce: when a feed's timer fires, the store's
// last run decides whether the slot is still to run. Another instance
// sharing the store may have run it already; a dry run does not count.
// Without this check two instances would both run each slot.
func TestScheduledRunIsDueOnlyOnce(t *testing.T) {
	ctx := t.Context()
	st, err := store.Open(ctx, pgtest.Path(t, t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cfg := config.Default()
	if err := cfg.Set("frequency", "24h"); err != nil {
		t.Fatal(err)
	}
	if err := st.SaveFeedConfig(ctx, feed.Name, cfg); err != nil {
		t.Fatal(err)
	}
	sc := newSchedule(st, nil, []string{feed.Name}, slog.New(slog.DiscardHandler))
	record := func(startedAgo time.Duration, dry bool) time.Time {
		t.Helper()
		r := &activity.Run{Feed: feed.Name, Trigger: activity.TriggerSchedule, Status: activity.StatusSucceeded,
			DryRun: dry, StartedAt: time.Now().Add(-startedAgo).Truncate(time.Millisecond)}
		if err := st.CreateRun(ctx, r); err != nil {
			t.Fatal(err)
		}
		return r.StartedAt
	}
	due := func() (bool, time.Time) {
		t.Helper()
		ok, next, err := sc.due(ctx, feed.Name)
		if err != nil {
			t.Fatal(err)
		}
		return ok, next
	}

	if ok, _ := due(); !ok {
		t.Fatal("a feed that never ran is not due")
	}
	started := record(25*time.Hour, false)
	if ok, next := due(); !ok || !next.Equal(started.Add(24*time.Hour)) {
		t.Fatalf("last run 25h ago, every 24h: due %v, next %v; want due, next %v", ok, next, started.Add(24*time.Hour))
	}
	// Another instance ran this slot a minute ago.
	started = record(time.Minute, false)
	if ok, next := due(); ok || !next.Equal(started.Add(24*time.Hour)) {
		t.Fatalf("the slot ran a minute ago: due %v, next %v; want not due, next %v", ok, next, started.Add(24*time.Hour))
	}
	// A dry run since then changes nothing: the next slot still counts
	// from the last real run.
	record(0, true)
	if ok, next := due(); ok || !next.Equal(started.Add(24*time.Hour)) {
		t.Fatalf("after a dry run: due %v, next %v; want not due, next %v", ok, next, started.Add(24*time.Hour))
	}
}
