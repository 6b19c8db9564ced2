package store

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"forewarn/internal/indicator"
	"forewarn/internal/merge"
)

// Sightings count, widen first and last, keep an indicator Active past the
// feed's expiry (through ExpireDue and through a later run's merge), bring
// an Expired one back, and leave addresses that are not indicators alone.
func TestRecordSightings(t *testing.T) {
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
	tx, err := s.BeginIngest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Write(ctx, []*merge.Stored{
		row("192.0.2.1", indicator.StatusActive, now.Unix()+3600),        // expires in an hour
		row("192.0.2.2", indicator.StatusExpired, now.Unix()-3600),       // expired an hour ago
		row("2001:db8::3", indicator.StatusActive, now.Unix()+86400*365), // far ahead
	}); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	at := func(d time.Duration) time.Time { return now.Add(d) }
	sightings := []Sighting{
		{netip.MustParseAddr("192.0.2.1"), 2, at(-2 * time.Hour), at(-time.Hour)},
		{netip.MustParseAddr("::ffff:192.0.2.1"), 3, at(-3 * time.Hour), at(-30 * time.Minute)}, // the same address, mapped
		{netip.MustParseAddr("192.0.2.2"), 1, at(-time.Minute), at(-time.Minute)},
		{netip.MustParseAddr("2001:db8::3"), 1, at(-time.Minute), at(-time.Minute)},
		{netip.MustParseAddr("198.51.100.9"), 5, at(-time.Minute), at(-time.Minute)}, // not an indicator
	}
	n, err := s.RecordSightings(ctx, sightings, 30*24*time.Hour, now)
	if err != nil || n != 3 {
		t.Fatalf("recorded %d, %v; want 3 (the fifth is no indicator)", n, err)
	}
	// Again: counts add up, first and last only widen.
	if n, err := s.RecordSightings(ctx, sightings[:1], 30*24*time.Hour, now); err != nil || n != 1 {
		t.Fatalf("again: %d, %v", n, err)
	}
	ind, err := s.Lookup(ctx, netip.MustParseAddr("192.0.2.1"))
	if err != nil {
		t.Fatal(err)
	}
	until := at(-30*time.Minute).Unix() + 30*86400
	if sg := ind.Sightings; sg == nil || sg.Count != 7 || !sg.First.Equal(at(-3*time.Hour)) || !sg.Last.Equal(at(-30*time.Minute)) ||
		ind.ExpiresAt == nil || ind.ExpiresAt.Unix() != until {
		t.Fatalf("192.0.2.1: sightings %+v, expires %v; want 7 from -3h to -30m, expiring at %d", ind.Sightings, ind.ExpiresAt, until)
	}
	if ind, _ := s.Lookup(ctx, netip.MustParseAddr("192.0.2.2")); ind.Status != indicator.StatusActive {
		t.Fatalf("an Expired indicator sighted a minute ago stays %s", ind.Status)
	}
	if ind, _ := s.Lookup(ctx, netip.MustParseAddr("2001:db8::3")); ind.ExpiresAt.Unix() != now.Unix()+86400*365 {
		t.Fatalf("a sighting shortened an expiry: %v", ind.ExpiresAt)
	}
	if _, err := s.Lookup(ctx, netip.MustParseAddr("198.51.100.9")); err == nil {
		t.Fatal("a sighting created an indicator")
	}
	// Past the feed's expiry but within the sighting's: not expired.
	if n, err := s.ExpireDue(ctx, at(2*time.Hour)); err != nil || n != 0 {
		t.Fatalf("ExpireDue two hours on: %d, %v; want 0, the sighting keeps it", n, err)
	}
	// A run merging the same record two hours on keeps it Active too.
	st, err := s.LookupStored(ctx, netip.MustParseAddr("192.0.2.1"))
	if err != nil {
		t.Fatal(err)
	}
	in := row("192.0.2.1", indicator.StatusActive, 0)
	lc := merge.NewLifecycle(at(2*time.Hour).Unix(), 100+3600, true, false)
	var c merge.Counts
	merge.ApplyLifecycle(&st, &in.Record, 2, lc, &c)
	if st.Status != indicator.StatusActive || c.IndicatorsExpired != 0 {
		t.Fatalf("the merge expired a sighted indicator: %s", st.Status)
	}
	// Once the sighting's time is past as well, it expires.
	if n, err := s.ExpireDue(ctx, time.Unix(until+3600, 0)); err != nil || n != 2 {
		t.Fatalf("ExpireDue past the sightings: %d, %v; want 2", n, err)
	}
	// No extension (sighting_extends 0): counted, expiry untouched.
	if _, err := s.RecordSightings(ctx, sightings[3:4], 0, now); err != nil {
		t.Fatal(err)
	}
	if ind, _ := s.Lookup(ctx, netip.MustParseAddr("2001:db8::3")); ind.Sightings.Count != 2 || ind.ExpiresAt.Unix() != now.Unix()+86400*365 {
		t.Fatalf("without extension: %+v %v", ind.Sightings, ind.ExpiresAt)
	}
}

// LookupMany finds the stored ones among many addresses, across its
// chunks, IPv4-mapped addresses as IPv4.
func TestLookupMany(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	tx, err := s.BeginIngest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var rows []*merge.Stored
	for i := range 3 {
		r := &merge.Stored{Status: indicator.StatusActive, CreatedAt: 1, UpdatedAt: 1}
		r.Addr = netip.AddrFrom4([4]byte{198, 51, 100, byte(i * 100)})
		rows = append(rows, r)
	}
	if err := tx.Write(ctx, rows); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	var ask []netip.Addr
	for i := range 1200 {
		ask = append(ask, netip.AddrFrom4([4]byte{198, 51, byte(100 + i/256), byte(i)}))
	}
	ask = append(ask, netip.MustParseAddr("::ffff:198.51.100.200"))
	got, err := s.LookupMany(ctx, ask)
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]int{}
	for _, ind := range got {
		found[ind.Addr.String()]++
	}
	// 198.51.100.200 is asked for twice, in two chunks: found at least
	// once; nothing else is found.
	if len(found) != 3 || found["198.51.100.0"] != 1 || found["198.51.100.100"] != 1 || found["198.51.100.200"] < 1 {
		t.Fatalf("found %v, want the three stored addresses", found)
	}
}
