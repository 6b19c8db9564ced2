package store

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"forewarn/internal/indicator"
	"forewarn/internal/merge"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// TestRewrittenRowsKeepEveryChange: a later run that loads an indicator
// and writes it back changed stores every change, whichever indexed column
// it is in (SQLite writes such rows with an update that sets only the
// indexed columns whose values changed), and the indexes agree with the
// rows. What a user would notice otherwise: a re-run whose changes to the
// cluster, importance, status or expiry do not show, or searches and
// expiry that find indicators by their old values.
func TestRewrittenRowsKeepEveryChange(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	changes := map[string]func(r *merge.Stored){
		"nothing indexed":    func(r *merge.Stored) { r.DetectedBy = []string{"z"} },
		"cluster":            func(r *merge.Stored) { r.Cluster = "c2" },
		"cluster removed":    func(r *merge.Stored) { r.Has &^= merge.Set(0).With(merge.Cluster); r.Cluster = "" },
		"importance":         func(r *merge.Stored) { r.Importance = 12 },
		"predicted category": func(r *merge.Stored) { r.PredictedCategory = "phishing" },
		"predicted at":       func(r *merge.Stored) { r.PredictedAt = 1_700_000_500 },
		"expired":            func(r *merge.Stored) { r.Status = indicator.StatusExpired },
		"expiry":             func(r *merge.Stored) { r.ExpiresAt = 1_900_000_000 },
		"updated at":         func(r *merge.Stored) { r.UpdatedAt = 900 },
		"all of them": func(r *merge.Stored) {
			r.Cluster, r.Importance, r.PredictedCategory, r.Status, r.ExpiresAt, r.UpdatedAt = "c3", 1, "spam", indicator.StatusExpired, 5, 901
		},
	}
	s := open(t)
	base := func(ip string) *merge.Stored {
		r := stored(ip, indicator.StatusActive)
		r.Exists = false
		r.Has = r.Has.With(merge.PredictedCategory).With(merge.PredictedAt)
		r.PredictedCategory, r.PredictedAt, r.ExpiresAt = "malware", 1_700_000_000, 1_800_000_000
		return r
	}
	var rows []*merge.Stored
	want := map[netip.Addr]*merge.Stored{}
	i := 0
	for name := range changes {
		i++
		r := base(netip.AddrFrom4([4]byte{192, 0, 2, byte(i)}).String())
		r.Normalized = name // names the row in failures
		r.Has = r.Has.With(merge.NormalizedImportance)
		rows = append(rows, r)
	}
	commitRows(t, s, rows)

	tx, err := s.BeginIngest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	load := make([]*merge.Stored, len(rows))
	for i, r := range rows {
		load[i] = &merge.Stored{Record: merge.Record{Addr: r.Addr}}
	}
	if err := tx.Load(ctx, load); err != nil {
		t.Fatal(err)
	}
	for _, r := range load {
		if !r.Exists {
			t.Fatalf("%s: not loaded", r.Addr)
		}
		changes[r.Normalized](r)
		want[r.Addr] = r
	}
	if err := tx.Write(ctx, load); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	for addr, w := range want {
		got, err := s.LookupStored(ctx, addr)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(w.Record, got.Record, cmpopts.EquateComparable(netip.Addr{}, netip.Prefix{})); diff != "" {
			t.Errorf("%s: attributes after the rewrite (-want +got):\n%s", w.Normalized, diff)
		}
		if got.Status != w.Status || got.UpdatedAt != w.UpdatedAt || got.ExpiresAt != w.ExpiresAt || got.SListed != (w.Status != indicator.StatusExpired) {
			t.Errorf("%s: status %s, updated %d, expires %d, Seclytics-listed %t; want %s, %d, %d, %t", w.Normalized,
				got.Status, got.UpdatedAt, got.ExpiresAt, got.SListed, w.Status, w.UpdatedAt, w.ExpiresAt, w.Status != indicator.StatusExpired)
		}
		if wantConf := w.Status != indicator.StatusExpired; got.HasConfidence != wantConf {
			t.Errorf("%s: has a confidence %t, want %t", w.Normalized, got.HasConfidence, wantConf)
		}
	}
	// The partial index of Active indicators by cluster agrees.
	for cluster, n := range map[string]int{"c1": len(changes) - 4, "c2": 1, "c3": 0} {
		got, err := s.ClusterMembers(ctx, cluster, 100)
		if err != nil || len(got) != n {
			t.Errorf("Active members of cluster %s: %v, %v; want %d", cluster, got, err, n)
		}
	}
	if s.d == sqliteDialect {
		var check string
		if err := s.r.QueryRowContext(ctx, `PRAGMA integrity_check`).Scan(&check); err != nil || check != "ok" {
			t.Errorf("integrity_check: %s, %v", check, err)
		}
	}
}

// TestRowsChangedBehindLoadAreRewrittenWhole: a statement of the run that
// changes stored rows between Load and Write (here a new age_out, which
// recomputes every expiry) leaves Write nothing stale to compare with: the
// expiry written is the one stored. What a user would notice otherwise:
// an indicator that expires at the time the age_out statement computed
// instead of the one the run wrote.
func TestRowsChangedBehindLoadAreRewrittenWhole(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s := open(t)
	r := stored("192.0.2.1", indicator.StatusActive)
	r.Exists, r.ExpiresAt = false, 1_800_000_000
	r.Has = r.Has.With(merge.LastSeenAt)
	r.LastSeenAt = 1_700_000_000
	commitRows(t, s, []*merge.Stored{r})

	tx, err := s.BeginIngest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	load := []*merge.Stored{{Record: merge.Record{Addr: r.Addr}}}
	if err := tx.Load(ctx, load); err != nil || !load[0].Exists {
		t.Fatalf("load: %v, exists %t", err, load[0].Exists)
	}
	if err := tx.ApplyAgeOut(ctx, "seclytics", 3600); err != nil {
		t.Fatal(err)
	}
	// The run writes the expiry it read (say its record did not change
	// the Last Seen At but another attribute).
	load[0].Cluster = "c2"
	if err := tx.Write(ctx, load); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	got, err := s.LookupStored(ctx, r.Addr)
	if err != nil || got.ExpiresAt != 1_800_000_000 || got.Cluster != "c2" {
		t.Errorf("after the write: expires %d, cluster %q, %v; want 1800000000, c2", got.ExpiresAt, got.Cluster, err)
	}
}
