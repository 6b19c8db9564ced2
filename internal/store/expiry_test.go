package store

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"forewarn/internal/testutil/pgtest"
)

// The expiry UPDATE reads only the due rows, through the partial index on
// expires_at of Active rows, not the whole table.
func TestExpiryUsesItsIndex(t *testing.T) {
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "e.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	plan := queryPlan(t, s, expireSQL, 1, 1, 1)
	if got := strings.Join(plan, "; "); !strings.Contains(got, "indicators_expiry") {
		t.Fatalf("the expiry update does not use indicators_expiry: %s", got)
	}
	// The count of due indicators, and the reads of those a sighting keeps
	// Active past their feed's expiry, read the index's range up to now
	// (and those rows, for sighted_until), not the table.
	for _, q := range []string{activeDueSQL, sightedPastSQL, listedQueries[2]} {
		if got := strings.Join(queryPlan(t, s, q, 1, 1), "; "); !strings.Contains(got, "USING INDEX indicators_expiry (expires_at<?)") {
			t.Errorf("%s reads more than indicators_expiry's range: %s", q, got)
		}
	}
}

// benchStore opens a copy of the store at FOREWARN_BENCH_DB (scripts/bench
// style: a keep-everything store of a million indicators).
func benchStore(b *testing.B) *Store {
	b.Helper()
	src := os.Getenv("FOREWARN_BENCH_DB")
	if src == "" {
		b.Skip("set FOREWARN_BENCH_DB to a store to measure")
	}
	dst := filepath.Join(b.TempDir(), "e.db")
	data, err := os.ReadFile(src)
	if err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(dst, data, 0o600); err != nil {
		b.Fatal(err)
	}
	s, err := Open(context.Background(), dst)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

// BenchmarkExpireNothingDue is the periodic expiry on a usual hour: the
// partial index finds no Active indicator due.
func BenchmarkExpireNothingDue(b *testing.B) {
	s := benchStore(b)
	for b.Loop() {
		if _, err := s.ExpireDue(context.Background(), time.Unix(0, 0)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkExpireAllDue is the worst case: every Active indicator is due at
// once. Run it with -benchtime 1x.
func BenchmarkExpireAllDue(b *testing.B) {
	for b.Loop() {
		b.StopTimer()
		s := benchStore(b)
		b.StartTimer()
		n, err := s.ExpireDue(context.Background(), time.Now().AddDate(10, 0, 0))
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(n), "expired")
	}
}

// explainPlan returns the plan of query on either backend, a line per
// row of its EXPLAIN (SQLite's EXPLAIN QUERY PLAN details; PostgreSQL's
// plan text).
func explainPlan(t *testing.T, s *Store, query string, args ...any) []string {
	t.Helper()
	explain := "EXPLAIN QUERY PLAN "
	if s.d == postgresDialect {
		explain = "EXPLAIN "
	}
	rows, err := s.r.QueryContext(context.Background(), explain+query, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var lines []string
	for rows.Next() {
		cols, _ := rows.Columns()
		vals := make([]any, len(cols))
		for i := range vals {
			vals[i] = new(any)
		}
		if err := rows.Scan(vals...); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, fmt.Sprint(*vals[len(vals)-1].(*any)))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return lines
}

// queryPlan returns the lines of SQLite's plan for query.
func queryPlan(t *testing.T, s *Store, query string, args ...any) []string {
	t.Helper()
	pgtest.SkipUnlessSQLite(t, "reads SQLite's query plans")
	rows, err := s.r.Query("EXPLAIN QUERY PLAN "+query, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return plan
}
