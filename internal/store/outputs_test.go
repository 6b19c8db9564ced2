package store

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"forewarn/internal/indicator"
	"forewarn/internal/merge"
)

// TestOutputsRoundTrip: a profile is created once per name, read back,
// opened only by its own key's hash, re-keyed (the old hash stops working
// at once), its fetches recorded, and removed; on both backends.
func TestOutputsRoundTrip(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	o, err := s.CreateOutput(ctx, Output{Name: "edge", Spec: `{"format":"edl"}`, KeyPrefix: "abcd1234", CreatedBy: "alice"}, "hash-1")
	if err != nil || o.Name != "edge" || o.FetchedAt != nil || o.CreatedBy != "alice" {
		t.Fatalf("create: %+v %v", o, err)
	}
	if _, err := s.CreateOutput(ctx, Output{Name: "edge", Spec: "{}"}, "hash-2"); !errors.Is(err, ErrConflict) {
		t.Fatalf("a second edge: %v; want ErrConflict", err)
	}
	if _, err := s.CreateOutput(ctx, Output{Name: "other", Spec: `{"format":"edl"}`}, "hash-3"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AuthenticateOutput(ctx, "edge", "hash-1"); err != nil {
		t.Fatalf("edge with its key: %v", err)
	}
	for _, tc := range [][2]string{{"edge", "hash-3"}, {"other", "hash-1"}, {"nope", "hash-1"}} {
		if _, err := s.AuthenticateOutput(ctx, tc[0], tc[1]); !errors.Is(err, ErrUnauthorized) {
			t.Errorf("%s with %s: %v; want ErrUnauthorized", tc[0], tc[1], err)
		}
	}
	if _, err := s.SetOutputKey(ctx, "edge", "hash-9", "zzzz9999"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AuthenticateOutput(ctx, "edge", "hash-1"); !errors.Is(err, ErrUnauthorized) {
		t.Errorf("the old key after a rotation: %v", err)
	}
	at := time.Unix(1_800_000_000, 0).UTC()
	if err := s.RecordOutputFetch(ctx, "edge", at, "192.0.2.7 (user fw)", 1000, "55"); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordOutputFetch(ctx, "edge", at.Add(time.Minute), "192.0.2.8", -1, ""); err != nil {
		t.Fatal(err)
	}
	got, err := s.OutputNamed(ctx, "edge")
	if err != nil || got.FetchedAt == nil || !got.FetchedAt.Equal(at.Add(time.Minute)) || got.FetchedBy != "192.0.2.8" ||
		got.Entries != 1000 || got.CutOff != "55" || got.KeyPrefix != "zzzz9999" {
		t.Fatalf("after two fetches: %+v %v", got, err)
	}
	all, err := s.Outputs(ctx)
	if err != nil || len(all) != 2 || all[0].Name != "edge" || all[1].Name != "other" {
		t.Fatalf("list: %+v %v", all, err)
	}
	if err := s.DeleteOutput(ctx, "edge"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.OutputNamed(ctx, "edge"); !errors.Is(err, ErrNotFound) {
		t.Errorf("after removal: %v", err)
	}
	if err := s.DeleteOutput(ctx, "edge"); !errors.Is(err, ErrNotFound) {
		t.Errorf("removing it again: %v", err)
	}
}

// rankRows are Active indicators with importances that tie, one without
// an importance, and an Expired one (which no ranking reads).
func rankRows() []*merge.Stored {
	var rows []*merge.Stored
	for i, imp := range []float64{50, 90, 50, 70, 50, -1} {
		st := &merge.Stored{Record: merge.Record{Addr: netip.MustParseAddr(fmt.Sprintf("198.51.100.%d", i+1))}, Exists: true,
			Status: indicator.StatusActive, CreatedAt: 100, UpdatedAt: 200 + int64(i)}
		if imp >= 0 {
			st.Has = st.Has.With(merge.Importance)
			st.Importance = imp
		}
		rows = append(rows, st)
	}
	exp := &merge.Stored{Record: merge.Record{Addr: netip.MustParseAddr("198.51.100.200")}, Exists: true,
		Status: indicator.StatusExpired, CreatedAt: 100, UpdatedAt: 900}
	exp.Has = exp.Has.With(merge.Importance)
	exp.Importance = 99
	return append(rows, exp)
}

// TestEachRankedOrdersThroughTheIndex: importance and confidence, highest
// first (none last), ties by address, the higher first; recency, the latest change
// first; Active only; the same order on both backends and from one call to
// the next. On SQLite the query plan reads the index, with no sort.
func TestEachRankedOrdersThroughTheIndex(t *testing.T) {
	s := open(t)
	commitRows(t, s, rankRows())
	ctx := context.Background()
	// Combined confidences that tie, one none (no source lists it) and
	// the Expired one's highest, as list runs leave them.
	for addr, c := range map[string]any{"198.51.100.1": 60, "198.51.100.2": 60, "198.51.100.3": 90, "198.51.100.4": nil,
		"198.51.100.5": 60, "198.51.100.6": 30, "198.51.100.200": 99} {
		if _, err := s.w.ExecContext(ctx, `UPDATE indicators SET confidence = ? WHERE ip = ?`, c, key(netip.MustParseAddr(addr))); err != nil {
			t.Fatal(err)
		}
	}
	read := func(by string, n int) []string {
		return readRanked(t, s, by, RankFilter{}, n)
	}
	want := []string{"198.51.100.2=90", "198.51.100.4=70", "198.51.100.5=50", "198.51.100.3=50", "198.51.100.1=50", "198.51.100.6=none"}
	for range 2 {
		if diff := cmp.Diff(want, read(RankImportance, 100)); diff != "" {
			t.Fatalf("by importance (-want +got):\n%s", diff)
		}
	}
	if diff := cmp.Diff(want[:3], read(RankImportance, 3)); diff != "" {
		t.Errorf("stopped after 3 (-want +got):\n%s", diff)
	}
	var whole []string
	if err := s.EachRankedIndicator(ctx, RankImportance, RankFilter{}, nil, func(r Ranked, ind *indicator.Indicator, _ netip.Prefix) bool {
		if r.Addr != ind.Addr {
			t.Errorf("ranked %s, read %s", r.Addr, ind.Addr)
		}
		whole = append(whole, r.Addr.String()+"="+r.Rank())
		return true
	}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, whole); diff != "" {
		t.Errorf("EachRankedIndicator by importance (-want +got):\n%s", diff)
	}
	wantConf := []string{"198.51.100.3=90", "198.51.100.5=60", "198.51.100.2=60", "198.51.100.1=60", "198.51.100.6=30", "198.51.100.4=none"}
	for range 2 {
		if diff := cmp.Diff(wantConf, read(RankConfidence, 100)); diff != "" {
			t.Fatalf("by confidence (-want +got):\n%s", diff)
		}
	}
	min60 := 60
	if diff := cmp.Diff(wantConf[:3], readRanked(t, s, RankConfidence, RankFilter{MinConfidence: &min60}, 3)); diff != "" {
		t.Errorf("by confidence, at least 60, stopped after 3 (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"198.51.100.2=90", "198.51.100.5=50", "198.51.100.3=50", "198.51.100.1=50"}, readRanked(t, s, RankImportance, RankFilter{MinConfidence: &min60}, 100)); diff != "" {
		t.Errorf("by importance, confidence at least 60 (-want +got):\n%s", diff)
	}
	indexes := map[string]string{RankImportance: "indicators_active_importance", RankConfidence: "indicators_active_confidence", RankRecency: "indicators_updated"}
	for by, index := range indexes {
		for _, f := range []RankFilter{{}, {Feeds: []string{"seclytics", "x"}, MinSources: 1, MinConfidence: &min60}} {
			for _, cols := range []string{storedColumns, `ip, expires_at`} {
				q, _, args, err := rankStatements(by, f, cols, false)
				if err != nil {
					t.Fatal(err)
				}
				plan := strings.Join(sqlitePlan(t, s, q, args...), "; ")
				if plan != "" && (!strings.Contains(plan, index) || strings.Contains(plan, "TEMP B-TREE")) {
					t.Errorf("the %s ranking (filter %+v) does not read %s in order: %s", by, f, index, plan)
				}
				// A plain walk (an edl's) reads the index alone, no row.
				if plan != "" && by != RankRecency && len(f.Feeds) == 0 && cols != storedColumns && !strings.Contains(plan, "COVERING INDEX "+index) {
					t.Errorf("the plain %s walk reads rows beside %s: %s", by, index, plan)
				}
			}
		}
	}
	got := read(RankRecency, 2)
	if len(got) != 2 || !strings.HasPrefix(got[0], "198.51.100.6=1970-01-01T00:03:25Z") || !strings.HasPrefix(got[1], "198.51.100.5=") {
		t.Errorf("by recency: %v", got)
	}
	if err := s.EachRanked(ctx, "size", RankFilter{}, func(Ranked) bool { return true }); !errors.Is(err, ErrBadQuery) {
		t.Errorf("an unknown rank: %v", err)
	}

	var addrs []string
	keys := []netip.Addr{netip.MustParseAddr("198.51.100.2"), netip.MustParseAddr("198.51.100.4"), netip.MustParseAddr("198.51.100.9")}
	if err := s.EachIndicatorAt(ctx, keys, nil, func(ind *indicator.Indicator, _ netip.Prefix) error {
		addrs = append(addrs, ind.Addr.String())
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"198.51.100.2", "198.51.100.4"}, addrs); diff != "" {
		t.Errorf("EachIndicatorAt (-want +got):\n%s", diff)
	}
}

// sqlitePlan is the query plan on SQLite, nothing on PostgreSQL.
func sqlitePlan(t *testing.T, s *Store, query string, args ...any) []string {
	t.Helper()
	if s.d != sqliteDialect {
		return nil
	}
	return queryPlan(t, s, query, args...)
}

// readRanked is the first n indicators of rank by with filter f, as
// "address=rank".
func readRanked(t *testing.T, s *Store, by string, f RankFilter, n int) []string {
	t.Helper()
	var out []string
	if err := s.EachRanked(context.Background(), by, f, func(r Ranked) bool {
		out = append(out, r.Addr.String()+"="+r.Rank())
		return len(out) < n
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestEachListedAddressReadsTheExpiryIndex: the Active addresses whose
// expiry is ahead (or none), in address order; on SQLite from the
// expiry index alone, never the rows.
func TestEachListedAddressReadsTheExpiryIndex(t *testing.T) {
	s := open(t)
	rows := rankRows()
	rows[0].ExpiresAt = 1000 // passed
	rows[1].ExpiresAt = 5000 // ahead
	rows = append(rows, &merge.Stored{Record: merge.Record{Addr: netip.MustParseAddr("2001:db8::7")}, Exists: true,
		Status: indicator.StatusActive, CreatedAt: 100, UpdatedAt: 200})
	commitRows(t, s, rows)
	var got []string
	if err := s.EachListed(context.Background(), time.Unix(2000, 0), func(p netip.Prefix) error {
		a := p.Addr()
		got = append(got, a.String())
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	want := []string{"198.51.100.2", "198.51.100.3", "198.51.100.4", "198.51.100.5", "198.51.100.6", "2001:db8::7"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("listed addresses (-want +got):\n%s", diff)
	}
	for i, q := range listedQueries {
		// The last reads the rows of the index's range up to now, for
		// their sighted_until (TestExpiryUsesItsIndex).
		want := "COVERING INDEX indicators_expiry"
		if i == len(listedQueries)-1 {
			want = "USING INDEX indicators_expiry (expires_at<?)"
		}
		if plan := strings.Join(sqlitePlan(t, s, strings.ReplaceAll(q, "?", "2000")), "; "); plan != "" && !strings.Contains(plan, want) {
			t.Errorf("%s reads more than the expiry index: %s", q, plan)
		}
	}
}

// TestRankedReadsDoNotSortTheStore: over 100,000 Active indicators (with
// statistics, so that PostgreSQL's planner would sort them if the query
// let it), a ranked read of 5,000 hands out the same 5,000 a sort of the
// table gives (on PostgreSQL across pages, ties included), and its statements walk the ranking index on both backends: on
// SQLite one ordered statement with no temporary sort; on PostgreSQL each
// page (the first, and one after a row) an index scan under a LIMIT, no
// sequential scan, no sort. So a budget costs its size, not the store's.
func TestRankedReadsDoNotSortTheStore(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	fill := `WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 99999)
	INSERT INTO indicators (ip, status, created_at, updated_at, s_importance, confidence)
	SELECT unhex(printf('00000000000000000000ffff%08x', i * 42949)), 'Active', 0, (i * 7) % 100000,
		CASE WHEN i % 10 = 0 THEN NULL ELSE (i * 7919) % 10000 / 100.0 END, (i * 31) % 101 FROM n`
	if s.d == postgresDialect {
		fill = `INSERT INTO indicators (ip, status, created_at, updated_at, s_importance, confidence)
		SELECT decode('00000000000000000000ffff' || lpad(to_hex(i * 42949), 8, '0'), 'hex'), 'Active', 0, (i * 7) % 100000,
			CASE WHEN i % 10 = 0 THEN NULL ELSE (i * 7919) % 10000 / 100.0 END, (i * 31) % 101
		FROM generate_series(0::bigint, 99999) AS i`
	}
	if _, err := s.w.ExecContext(ctx, fill); err != nil {
		t.Fatal(err)
	}
	if s.d == postgresDialect {
		if _, err := s.w.ExecContext(ctx, "ANALYZE indicators"); err != nil {
			t.Fatal(err)
		}
	}
	plan := func(q string, args ...any) string { return strings.Join(explainPlan(t, s, q, args...), "\n") }
	indexes := map[string]string{RankImportance: "indicators_active_importance", RankConfidence: "indicators_active_confidence", RankRecency: "indicators_updated"}
	min50 := 50
	for by, index := range indexes {
		// The top 5,000 by a sort of the whole table, ties by address.
		var want []string
		rows, err := s.r.QueryContext(ctx, `SELECT ip FROM indicators WHERE status = 'Active'`+rankOrder(by)+` LIMIT 5000`)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var ip []byte
			if err := rows.Scan(&ip); err != nil {
				t.Fatal(err)
			}
			a, _ := addrFromKey(ip)
			want = append(want, a.String())
		}
		rows.Close()
		var got []string
		for _, r := range readRanked(t, s, by, RankFilter{}, 5000) {
			got = append(got, r[:strings.IndexByte(r, '=')])
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("the first 5,000 by %s (-sorted +ranked):\n%s", by, diff)
		}
		for _, f := range []RankFilter{{}, {MinSources: 0, MinConfidence: &min50}} {
			first, next, args, err := rankStatements(by, f, storedColumns, s.d == postgresDialect)
			if err != nil {
				t.Fatal(err)
			}
			if s.d != postgresDialect {
				if p := plan(first, args...); !strings.Contains(p, index) || strings.Contains(p, "TEMP B-TREE") {
					t.Errorf("by %s (filter %+v): SQLite does not walk %s in order:\n%s", by, f, index, p)
				}
				continue
			}
			var after any = int64(50000)
			if by == RankImportance {
				after = 50.0
			}
			for name, p := range map[string]string{
				"first page": plan(first, append(slices.Clip(args), rankPage)...),
				"next page":  plan(next, append(slices.Clip(args), after, key(netip.MustParseAddr("100.0.0.0")), rankPage)...),
			} {
				if !strings.Contains(p, "Index Scan Backward using "+index) || strings.Contains(p, "Sort") || strings.Contains(p, "Seq Scan") {
					t.Errorf("by %s (filter %+v), %s: PostgreSQL does not walk %s:\n%s", by, f, name, index, p)
				}
			}
		}
	}
}
