package store

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"

	"forewarn/internal/config"
	"forewarn/internal/indicator"
	"forewarn/internal/merge"
)

// TestIndicatorCountFollowsCommitsAndPurges: the count pages show comes
// from store_counts, not from counting rows, so it must move with every
// commit and purge, and not with a rolled-back run.
func TestIndicatorCountFollowsCommitsAndPurges(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	if err := s.SaveFeedConfig(ctx, "seclytics", config.Default()); err != nil {
		t.Fatal(err)
	}
	check := func(step string) int64 {
		t.Helper()
		v, err := s.DataVersion(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var n int64
		if err := s.r.QueryRow(`SELECT COUNT(*) FROM indicators`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if v.Count != n {
			t.Fatalf("%s: DataVersion.Count = %d, the table holds %d", step, v.Count, n)
		}
		return n
	}
	// ingest loads rows first, as a run does (Load says which exist),
	// then writes them.
	ingest := func(from, to int, commit bool) {
		t.Helper()
		var rows []*merge.Stored
		for i := from; i < to; i++ {
			r := stored(fmt.Sprintf("10.0.%d.%d", i/250, i%250), indicator.StatusActive)
			r.Exists = false
			rows = append(rows, r)
		}
		tx, err := s.BeginIngest(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		if err := tx.Load(ctx, rows); err != nil {
			t.Fatal(err)
		}
		if err := tx.Write(ctx, rows); err != nil {
			t.Fatal(err)
		}
		if commit {
			if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if n := check("empty"); n != 0 {
		t.Fatalf("empty store holds %d", n)
	}
	ingest(0, 600, true)
	if n := check("first run"); n != 600 {
		t.Fatalf("first run: %d indicators, want 600", n)
	}
	ingest(500, 700, true) // 100 existing, 100 new
	if n := check("second run"); n != 700 {
		t.Fatalf("second run: %d indicators, want 700", n)
	}
	ingest(700, 900, false) // rolled back
	if n := check("rolled-back run"); n != 700 {
		t.Fatalf("rolled-back run: %d indicators, want 700", n)
	}
	if _, err := s.DeleteFeed(ctx, "seclytics", true); err != nil {
		t.Fatal(err)
	}
	if n := check("purge"); n != 0 {
		t.Fatalf("purge: %d indicators, want 0", n)
	}
}

func TestDashboardSnapshotRoundTrip(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	if _, _, ok, err := s.SavedDashboard(ctx); ok || err != nil {
		t.Fatalf("a new store has a saved dashboard (ok %v, err %v)", ok, err)
	}
	commitSearchRows(t, s, searchRows(200))
	d, err := s.DashboardAggregates(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if d.Indicators != 200 || len(d.Categories) == 0 {
		t.Fatalf("aggregates of 200 rows: %+v", d)
	}
	// searchRows cycles five statuses, two of them Active; all were
	// created long ago and none expires.
	if d.Statuses["Active"] != 80 || d.Statuses["Review"] != 40 || d.New24h != 0 || d.Expiring7d != 0 {
		t.Errorf("statuses %v, new in 24 h %d, expiring in 7 days %d; want 80 Active, 40 Review, 0, 0", d.Statuses, d.New24h, d.Expiring7d)
	}
	fresh := stored("192.0.2.77", "Active")
	fresh.CreatedAt, fresh.ExpiresAt = time.Now().Unix(), time.Now().Add(48*time.Hour).Unix()
	commitRows(t, s, []*merge.Stored{fresh})
	if d, err = s.DashboardAggregates(ctx); err != nil || d.New24h != 1 || d.Expiring7d != 1 || d.Statuses["Active"] != 81 {
		t.Fatalf("after one new Active indicator expiring in 2 days: new %d, expiring %d, statuses %v, %v; want 1, 1, 81 Active", d.New24h, d.Expiring7d, d.Statuses, err)
	}
	// A sighting keeps it Active for 30 days: it no longer expires in 7.
	now := time.Now()
	if _, err := s.RecordSightings(ctx, []Sighting{{fresh.Addr, 1, now, now}}, 30*24*time.Hour, now); err != nil {
		t.Fatal(err)
	}
	if d, err = s.DashboardAggregates(ctx); err != nil || d.Expiring7d != 0 {
		t.Fatalf("after a sighting that keeps it Active for 30 days: expiring in 7 days %d, %v; want 0", d.Expiring7d, err)
	}
	v, err := s.DataVersion(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 { // the second save replaces the first
		d.Bands["High"] += int64(i)
		if err := s.SaveDashboard(ctx, v, d); err != nil {
			t.Fatal(err)
		}
	}
	got, gotV, ok, err := s.SavedDashboard(ctx)
	if err != nil || !ok {
		t.Fatalf("saved dashboard: ok %v, err %v", ok, err)
	}
	if gotV != v {
		t.Errorf("saved version %+v, want %+v", gotV, v)
	}
	if diff := gocmp.Diff(d, got); diff != "" {
		t.Errorf("saved dashboard (-want +got):\n%s", diff)
	}
}

// TestActiveIndexesServeImportanceAndCluster: sorted by importance, a
// search for Active indicators seeks the partial index from its cursor,
// with no sort; so does the list of a cluster's Active members.
func TestActiveIndexesServeImportanceAndCluster(t *testing.T) {
	s := open(t)
	commitSearchRows(t, s, searchRows(300))
	for _, sort := range []string{"importance", "-importance"} {
		q := IndicatorQuery{Sort: sort, Limit: 10, Status: indicator.StatusActive, Category: "malicious"}
		q.Cursor = mustPage(t, s, q).Next
		query, args, _, _, err := q.sql(s.d)
		if err != nil {
			t.Fatal(err)
		}
		// Two seeks (the cursor's ties, then the keys after it), each
		// limited, and a sort of those few rows only.
		plan := queryPlan(t, s, query, args...)
		var seeks int
		for _, step := range plan {
			if strings.HasPrefix(step, "SEARCH indicators USING INDEX indicators_active_importance (") {
				seeks++
			}
			if strings.HasPrefix(step, "SCAN indicators") {
				t.Errorf("%s, Active: plan step %q scans the table", sort, step)
			}
		}
		if seeks != 2 {
			t.Errorf("%s, Active: plan %q, want two seeks of indicators_active_importance", sort, plan)
		}
	}
	p := strings.Join(queryPlan(t, s, `SELECT ip FROM indicators WHERE s_cluster_id = (SELECT id FROM s_clusters WHERE name = ?) AND status = 'Active' ORDER BY ip LIMIT ?`, "c-10.0.1.1", 21), "; ")
	if !strings.Contains(p, "indicators_active_cluster (s_cluster_id=?)") || strings.Contains(p, "TEMP B-TREE") {
		t.Errorf("cluster members: plan %q, want indicators_active_cluster and no sort", p)
	}
	got, err := s.ClusterMembers(context.Background(), "c-10.0.1.1", 5)
	if err != nil || len(got) != 1 || got[0].String() != "10.0.1.1" {
		t.Errorf("ClusterMembers(c-10.0.0.1) = %v, %v; want [10.0.1.1] (an Active row)", got, err)
	}
	// searchRows makes row 2 (10.0.2.1) Review: not listed.
	if got, err := s.ClusterMembers(context.Background(), "c-10.0.2.1", 5); err != nil || len(got) != 0 {
		t.Errorf("ClusterMembers of a Review indicator's cluster = %v, %v; want none", got, err)
	}
}
