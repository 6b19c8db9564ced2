package store

import (
	"context"
	"database/sql"
	"fmt"
	"testing"
	"time"

	"forewarn/internal/activity"
	"forewarn/internal/indicator"
	"forewarn/internal/merge"
	"forewarn/internal/testutil/pgtest"
)

// TestBigRunRefreshesPlannerStatistics: on PostgreSQL, a successful run
// that changed at least analyzeAfter indicators leaves the planner
// statistics of indicators and memberships fresh (a manual ANALYZE, which
// autovacuum's own passes do not record as such); a smaller run, or a
// failed big one, leaves them to autovacuum.
func TestBigRunRefreshesPlannerStatistics(t *testing.T) {
	if !pgtest.Wanted() {
		t.Skip("PostgreSQL only: SQLite's plans do not read statistics")
	}
	s := open(t)
	ctx := context.Background()
	rows := make([]*merge.Stored, 0, 300)
	for i := range 300 {
		rows = append(rows, stored(fmt.Sprintf("10.0.%d.%d", i/250, i%250+1), indicator.StatusActive))
	}
	commitRows(t, s, rows)
	defer func(n int64) { analyzeAfter = n }(analyzeAfter)
	analyzeAfter = 200

	analyzed := func(table string) bool {
		t.Helper()
		var at sql.NullTime
		err := s.r.QueryRowContext(ctx, `SELECT last_analyze FROM pg_stat_user_tables
			WHERE schemaname = current_schema() AND relname = ?`, table).Scan(&at)
		if err != nil {
			t.Fatalf("read the statistics of %s: %v", table, err)
		}
		return at.Valid
	}
	finish := func(status activity.Status, created, delisted int64) {
		t.Helper()
		r := &activity.Run{Feed: "seclytics", Trigger: "manual", Status: activity.StatusRunning, StartedAt: time.Now()}
		if err := s.CreateRun(ctx, r); err != nil {
			t.Fatal(err)
		}
		now := time.Now()
		r.Status, r.FinishedAt, r.IndicatorsCreated, r.IndicatorsDelisted = status, &now, created, delisted
		if err := s.FinishRun(ctx, r); err != nil {
			t.Fatal(err)
		}
	}

	finish(activity.StatusSucceeded, 150, 49)
	finish(activity.StatusFailed, 300, 0)
	if analyzed("indicators") || analyzed("memberships") {
		t.Fatal("a run below the threshold, or a failed one, ran ANALYZE")
	}
	finish(activity.StatusSucceeded, 150, 50)
	for _, table := range []string{"indicators", "memberships"} {
		if !analyzed(table) {
			t.Errorf("a run that changed %d indicators left %s without fresh planner statistics", analyzeAfter, table)
		}
	}
}
