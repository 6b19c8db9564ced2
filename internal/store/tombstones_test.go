package store

import (
	"context"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"forewarn/internal/indicator"
	"forewarn/internal/merge"
)

// tombstone is what a test compares of one.
type tombstone struct {
	Value                string
	Generation           int64
	Created, Renewed     int64
	PurgedAfterOrAtStart bool
}

func tombstonesOf(t *testing.T, s *Store, start time.Time) []tombstone {
	t.Helper()
	var out []tombstone
	q := TombstoneQuery{Limit: 2} // pages of two: the cursor is used
	for {
		pg, err := s.SearchTombstones(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		for _, ind := range pg.Tombstones {
			var renewed int64
			if !ind.RenewedAt.IsZero() {
				renewed = ind.RenewedAt.Unix()
			}
			out = append(out, tombstone{ind.Value(), ind.Generation, ind.CreatedAt.Unix(), renewed,
				!ind.UpdatedAt.Before(start) && !ind.UpdatedAt.After(time.Now())})
		}
		if pg.Next == "" {
			return out
		}
		q.Cursor = pg.Next
	}
}

// A purge leaves a tombstone for each indicator it deletes (its
// generation, created and renewed times, the purge time), in the purge's
// transaction; an address ingested again, by a Seclytics run or a list
// run, starts at the generation after its tombstone's, renewed when
// written, and its tombstone goes; the expiry job drops tombstones older
// than TombstoneRetention.
func TestPurgeLeavesTombstones(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s := open(t)
	far := listT0.Add(1000 * 24 * time.Hour)
	for _, a := range []string{"192.0.2.1", "192.0.2.2", "192.0.2.3", "2001:db8::1"} {
		writeSeclytics(t, s, a, indicator.StatusActive, far)
	}
	ingestList(t, s, listRun("a", ModeSnapshot, 50, 0), list("192.0.2.3")) // kept by the purge
	// 192.0.2.2 is at generation 1.
	for _, st := range []indicator.Status{indicator.StatusWhitelisted, indicator.StatusActive} {
		if _, err := s.SetIndicatorStatus(ctx, netip.MustParseAddr("192.0.2.2"), st); err != nil {
			t.Fatal(err)
		}
	}
	renewed, err := s.Lookup(ctx, netip.MustParseAddr("192.0.2.2"))
	if err != nil || renewed.Generation != 1 {
		t.Fatalf("set up: generation %d, %v", renewed.Generation, err)
	}

	// A purge that fails after writing the tombstones (deleting the
	// indicators) leaves none.
	undo := FailDeletesForTest(t, s, "indicators")
	if _, err := s.DeleteFeed(ctx, "seclytics", true); err == nil || !strings.Contains(err.Error(), "injected failure") {
		t.Fatalf("purge with a failing step: %v", err)
	}
	undo()
	if got := tombstonesOf(t, s, time.Time{}); len(got) != 0 {
		t.Fatalf("a failed purge left tombstones: %+v", got)
	}

	start := time.Now().Truncate(time.Second)
	if n, err := s.DeleteFeed(ctx, "seclytics", true); err != nil || n != 3 {
		t.Fatalf("purged %d, %v; want 3", n, err)
	}
	created := listT0.Unix()
	want := []tombstone{
		{"192.0.2.1", 0, created, 0, true},
		{"192.0.2.2", 1, created, renewed.RenewedAt.Unix(), true},
		{"2001:db8::1", 0, created, 0, true},
	}
	if diff := cmp.Diff(want, tombstonesOf(t, s, start)); diff != "" {
		t.Fatalf("tombstones after the purge (-want +got):\n%s", diff)
	}
	pg, err := s.SearchTombstones(ctx, TombstoneQuery{PurgedSince: time.Now().Add(time.Second)})
	if err != nil || len(pg.Tombstones) != 0 {
		t.Errorf("tombstones purged since a second from now: %d, %v; want none", len(pg.Tombstones), err)
	}

	// Ingested again: a Seclytics run (192.0.2.2), a list run (192.0.2.1).
	writeSeclytics(t, s, "192.0.2.2", indicator.StatusActive, far)
	if ind, err := s.Lookup(ctx, netip.MustParseAddr("192.0.2.2")); err != nil || ind.Generation != 2 {
		t.Errorf("192.0.2.2 after the Seclytics run: generation %d, %v; want 2", ind.Generation, err)
	}
	ingestList(t, s, listRun("a", ModeSnapshot, 50, 1), list("192.0.2.3", "192.0.2.1"))
	for ip, gen := range map[string]int64{"192.0.2.2": 2, "192.0.2.1": 1} {
		ind, err := s.Lookup(ctx, netip.MustParseAddr(ip))
		if err != nil || ind.Generation != gen || ind.RenewedAt.IsZero() || !ind.RenewedAt.Equal(ind.UpdatedAt) {
			t.Errorf("%s ingested again: generation %d renewed at %v (updated %v), %v; want %d, renewed when written",
				ip, ind.Generation, ind.RenewedAt, ind.UpdatedAt, err, gen)
		}
	}
	var renewedKeys []string
	if err := s.EachRenewed(ctx, "", func(p netip.Prefix, g int64) error {
		renewedKeys = append(renewedKeys, p.String())
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	slices.Sort(renewedKeys)
	if diff := cmp.Diff([]string{"192.0.2.1/32", "192.0.2.2/32"}, renewedKeys); diff != "" {
		t.Errorf("EachRenewed (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want[2:], tombstonesOf(t, s, start)); diff != "" {
		t.Errorf("tombstones after the addresses came back (-want +got):\n%s", diff)
	}

	// The expiry job keeps a tombstone TombstoneRetention, then drops it.
	if _, err := s.ExpireDue(ctx, start.Add(TombstoneRetention-time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got := tombstonesOf(t, s, start); len(got) != 1 {
		t.Errorf("tombstones an hour before their retention ends: %+v; want 1", got)
	}
	if _, err := s.ExpireDue(ctx, time.Now().Add(TombstoneRetention+time.Second)); err != nil {
		t.Fatal(err)
	}
	if got := tombstonesOf(t, s, start); len(got) != 0 {
		t.Errorf("tombstones past their retention: %+v; want none", got)
	}
}

// A purge that empties the store, then a first ingest into the empty store
// (SQLite drops and rebuilds the indexes of indicators for it): the
// addresses come back at their next generation, and the partial index of
// renewed indicators holds them.
func TestTombstonesAfterAFirstIngest(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s := open(t)
	rows := func() []*merge.Stored {
		var out []*merge.Stored
		for _, a := range []string{"198.51.100.1", "198.51.100.2"} {
			r := &merge.Stored{Record: merge.Record{Addr: netip.MustParseAddr(a), LastSeenAt: listT0.Unix()}, Status: indicator.StatusActive,
				CreatedAt: listT0.Unix(), UpdatedAt: listT0.Unix()}
			r.Has = r.Has.With(merge.LastSeenAt)
			out = append(out, r)
		}
		return out
	}
	commitRows(t, s, rows())
	if n, err := s.DeleteFeed(ctx, "seclytics", true); err != nil || n != 2 {
		t.Fatalf("purged %d, %v; want 2", n, err)
	}
	commitRows(t, s, rows())
	var got []string
	if err := s.EachRenewed(ctx, indicator.StatusActive, func(p netip.Prefix, g int64) error {
		got = append(got, p.String()+" "+string(rune('0'+g)))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	if diff := cmp.Diff([]string{"198.51.100.1/32 1", "198.51.100.2/32 1"}, got); diff != "" {
		t.Errorf("renewed after a first ingest (-want +got):\n%s", diff)
	}
	if left := tombstonesOf(t, s, time.Time{}); len(left) != 0 {
		t.Errorf("tombstones left: %+v", left)
	}
}

// Applying the tombstones reads the tombstones and looks each indicator up
// by key: its cost is the number of tombstones, never a scan of the
// indicators (SQLite planned the UPDATE ... FROM form so).
func TestApplyingTombstonesScansNoIndicators(t *testing.T) {
	s := open(t)
	for _, q := range []string{renewTombstonedSQL, deleteRenewedTombstonesSQL} {
		for _, line := range queryPlan(t, s, q) {
			if strings.HasPrefix(line, "SCAN indicators") || strings.HasPrefix(line, "SCAN i ") || line == "SCAN i" {
				t.Errorf("%s\nscans the indicators: %s", q, line)
			}
		}
	}
}
