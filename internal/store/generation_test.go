package store

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"forewarn/internal/indicator"
	"forewarn/internal/merge"
)

// An indicator's generation moves when, and only when, it leaves a revoked
// status (Expired, Whitelisted) for a live one, whichever writer moves it:
// a person, a run's merge, a sighting. Reads report it, and EachRenewed
// lists the indicators past generation 0.
func TestGenerationMovesWhenARevokedIndicatorComesBack(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s := open(t)
	now := time.Unix(1_900_000_000, 0).UTC()
	row := func(ip string, status indicator.Status, expires int64) *merge.Stored {
		r := &merge.Stored{Status: status, CreatedAt: now.Unix() - 1000, UpdatedAt: now.Unix() - 1000, ExpiresAt: expires}
		r.Addr = netip.MustParseAddr(ip)
		r.Has = r.Has.With(merge.LastSeenAt)
		r.LastSeenAt = now.Unix() - 100
		return r
	}
	write := func(rows ...*merge.Stored) {
		t.Helper()
		tx, err := s.BeginIngest(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := tx.Write(ctx, rows); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	gen := func(ip string) int64 {
		t.Helper()
		ind, err := s.Lookup(ctx, netip.MustParseAddr(ip))
		if err != nil {
			t.Fatal(err)
		}
		return ind.Generation
	}
	set := func(ip string, st indicator.Status, want int64) {
		t.Helper()
		if _, err := s.SetIndicatorStatus(ctx, netip.MustParseAddr(ip), st); err != nil {
			t.Fatal(err)
		}
		if got := gen(ip); got != want {
			t.Errorf("%s set %s: generation %d, want %d", ip, st, got, want)
		}
	}
	write(row("192.0.2.1", indicator.StatusActive, now.Unix()+3600),
		row("192.0.2.2", indicator.StatusActive, now.Unix()-60),
		row("192.0.2.3", indicator.StatusExpired, now.Unix()-3600))

	// A person: revoked to revoked keeps it, revoked to live moves it,
	// live to live keeps it.
	set("192.0.2.1", indicator.StatusWhitelisted, 0)
	set("192.0.2.1", indicator.StatusExpired, 0)
	set("192.0.2.1", indicator.StatusActive, 1)
	set("192.0.2.1", indicator.StatusReview, 1)
	set("192.0.2.1", indicator.StatusWhitelisted, 1)
	set("192.0.2.1", indicator.StatusReview, 2)

	// The expiry sweep revokes; a later run's merge that lists it again
	// brings it back.
	if n, err := s.ExpireDue(ctx, now); err != nil || n != 1 {
		t.Fatalf("expired %d, %v; want 1", n, err)
	}
	if got := gen("192.0.2.2"); got != 0 {
		t.Errorf("expired: generation %d, want 0", got)
	}
	if ind, err := s.Lookup(ctx, netip.MustParseAddr("192.0.2.2")); err != nil || !ind.RenewedAt.IsZero() {
		t.Errorf("generation 0: renewed at %v, %v; want none", ind.RenewedAt, err)
	}
	write(row("192.0.2.2", indicator.StatusActive, now.Unix()+3600))
	if got := gen("192.0.2.2"); got != 1 {
		t.Errorf("listed again by a run: generation %d, want 1", got)
	}

	// A sighting brings an Expired indicator back.
	if _, err := s.RecordSightings(ctx, []Sighting{{netip.MustParseAddr("192.0.2.3"), 1, now, now}}, 24*time.Hour, now); err != nil {
		t.Fatal(err)
	}
	ind, err := s.Lookup(ctx, netip.MustParseAddr("192.0.2.3"))
	if err != nil || ind.Status != indicator.StatusActive || ind.Generation != 1 {
		t.Errorf("sighted: %s generation %d, %v; want Active, 1", ind.Status, ind.Generation, err)
	}
	// Renewed when it came back, in the store's time (whole seconds):
	// the modified of its generation 0's revoked version.
	if !ind.RenewedAt.Equal(now) {
		t.Errorf("sighted at %v: renewed at %v", now, ind.RenewedAt)
	}
	for ip, want := range map[string]time.Time{"192.0.2.2": indicator.Time(now.Unix() - 1000)} {
		if ind, err := s.Lookup(ctx, netip.MustParseAddr(ip)); err != nil || !ind.RenewedAt.Equal(want) {
			t.Errorf("%s listed again by a run updated at %v: renewed at %v, %v; want %v", ip, ind.UpdatedAt, ind.RenewedAt, err, want)
		}
	}

	// The reads of many agree with the lookup.
	pg, err := s.SearchIndicators(ctx, IndicatorQuery{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, ind := range pg.Indicators {
		got[ind.Addr.String()] = ind.Generation
	}
	want := map[string]int64{"192.0.2.1": 2, "192.0.2.2": 1, "192.0.2.3": 1}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("SearchIndicators' generations (-want +got):\n%s", diff)
	}
	renewed := map[string]int64{}
	if err := s.EachRenewed(ctx, indicator.StatusActive, func(p netip.Prefix, g int64) error {
		renewed[p.String()] = g
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]int64{"192.0.2.2/32": 1, "192.0.2.3/32": 1}, renewed); diff != "" {
		t.Errorf("EachRenewed(Active) (-want +got):\n%s", diff)
	}
}
