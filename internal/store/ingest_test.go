package store

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"forewarn/internal/indicator"
	"forewarn/internal/merge"
	"forewarn/internal/testutil/pgtest"

	"github.com/google/go-cmp/cmp"
)

// TestIngestStatementsSeeTheRunsWrites: expiry, the allow-list and a new
// age_out, run inside a feed run's transaction, act on the indicators the
// run wrote before them. PostgreSQL collects writes to merge them in
// chunks, so this fails there if one of them does not merge first.
func TestIngestStatementsSeeTheRunsWrites(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s := open(t)
	now := time.Unix(1_900_000_000, 0)
	row := func(ip string, expires int64) *merge.Stored {
		r := &merge.Stored{Status: indicator.StatusActive, CreatedAt: now.Unix(), UpdatedAt: now.Unix(), ExpiresAt: expires}
		r.Addr = netip.MustParseAddr(ip)
		r.Has = r.Has.With(merge.LastSeenAt)
		r.LastSeenAt = now.Unix() - 100
		return r
	}
	tx, err := s.BeginIngest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	write := func(r *merge.Stored) {
		t.Helper()
		if err := tx.Write(ctx, []*merge.Stored{r}); err != nil {
			t.Fatal(err)
		}
	}

	write(row("192.0.2.1", now.Unix()-1))
	if n, err := tx.ExpireDue(ctx, now); err != nil || n != 1 {
		t.Errorf("ExpireDue after writing one due indicator: %d, %v; want 1", n, err)
	}
	write(row("10.1.2.3", 0))
	if n, err := tx.Whitelist(ctx, []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, now); err != nil || n != 1 {
		t.Errorf("Whitelist after writing one indicator in the range: %d, %v; want 1", n, err)
	}
	write(row("198.51.100.4", 0))
	if err := tx.ApplyAgeOut(ctx, "seclytics", 3600); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	for ip, want := range map[string]indicator.Status{"192.0.2.1": indicator.StatusExpired, "10.1.2.3": indicator.StatusWhitelisted} {
		if st, err := s.LookupStored(ctx, netip.MustParseAddr(ip)); err != nil || st.Status != want {
			t.Errorf("%s after commit: %s, %v; want %s", ip, st.Status, err, want)
		}
	}
	st, err := s.LookupStored(ctx, netip.MustParseAddr("198.51.100.4"))
	if want := now.Unix() - 100 + 3600; err != nil || st.ExpiresAt != want {
		t.Errorf("198.51.100.4 expires at %d, %v; want %d (Last Seen At + the new age_out)", st.ExpiresAt, err, want)
	}
}

// TestFirstIngestDefersIndexes: a first ingest into an empty SQLite store
// writes without the secondary indexes of indicators and builds them
// before its lifecycle statements and its commit; a first ingest that
// rolls back leaves them as they were; a later ingest keeps them. What a
// user would notice otherwise: a store whose searches and expiry scan the
// whole table after its first run.
func TestFirstIngestDefersIndexes(t *testing.T) {
	pgtest.SkipUnlessSQLite(t, "PostgreSQL keeps its indexes (DROP INDEX would block readers)")
	ctx := context.Background()
	s := open(t)
	indexes := func(q querier) string {
		t.Helper()
		rows, err := q.QueryContext(ctx, `SELECT name || ': ' || sql FROM sqlite_master
			WHERE type = 'index' AND tbl_name = 'indicators' AND sql IS NOT NULL ORDER BY name`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var v string
			if err := rows.Scan(&v); err != nil {
				t.Fatal(err)
			}
			out = append(out, v)
		}
		return strings.Join(out, "\n")
	}
	want := indexes(s.r)
	if strings.Count(want, "\n") < 3 {
		t.Fatalf("expected the secondary indexes of migrations 003-006, got:\n%s", want)
	}

	// Rolled back: the indexes come back with the rest.
	tx, err := s.BeginIngest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	in := tx.(*sqliteIngest)
	if got := indexes(in.tx); got != "" {
		t.Errorf("a first ingest writes with indexes:\n%s", got)
	}
	if got := indexes(s.r); got != want {
		t.Errorf("a reader sees the indexes of an uncommitted first ingest:\n%s\nwant\n%s", got, want)
	}
	if err := tx.Write(ctx, []*merge.Stored{stored("1.2.3.4", indicator.StatusActive)}); err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	if got := indexes(s.r); got != want {
		t.Errorf("after a rolled-back first ingest (-want +got):\n%s", cmp.Diff(want, got))
	}

	// Committed: built again, before ExpireDue reads through one.
	tx, err = s.BeginIngest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	in = tx.(*sqliteIngest)
	if err := tx.Write(ctx, []*merge.Stored{stored("1.2.3.4", indicator.StatusActive)}); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExpireDue(ctx, time.Now()); err != nil {
		t.Fatal(err)
	}
	if got := indexes(in.tx); got != want {
		t.Errorf("indexes when ExpireDue runs (-want +got):\n%s", cmp.Diff(want, got))
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if got := indexes(s.r); got != want {
		t.Errorf("after a first ingest (-want +got):\n%s", cmp.Diff(want, got))
	}

	// Not empty any more: the next ingest keeps them.
	tx, err = s.BeginIngest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := indexes(tx.(*sqliteIngest).tx); got != want {
		t.Errorf("a second ingest dropped indexes (-want +got):\n%s", cmp.Diff(want, got))
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}
