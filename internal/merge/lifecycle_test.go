package merge

import (
	"net/netip"
	"testing"

	"forewarn/internal/indicator"
)

func TestApplyLifecycle(t *testing.T) {
	const (
		now = int64(1_700_000_000)
		age = int64(90 * 86400)
	)
	seen := func(lsa int64) *Record {
		r := &Record{Addr: netip.MustParseAddr("45.1.1.1"), LastSeenAt: lsa}
		r.Has = r.Has.With(LastSeenAt)
		return r
	}
	for _, tc := range []struct {
		name        string
		before      indicator.Status // "" = new
		in          *Record
		allowlisted bool
		want        indicator.Status
		expires     int64
		expired     int64
	}{
		{"new, recent", "", seen(now - 86400), false, indicator.StatusActive, now - 86400 + age, 0},
		{"new, last seen long ago", "", seen(now - 2*age), false, indicator.StatusExpired, now - age, 1},
		{"new, no Last Seen At", "", &Record{Addr: netip.MustParseAddr("45.1.1.1")}, false, indicator.StatusActive, now + age, 0},
		{"new, allow-listed", "", seen(now), true, indicator.StatusWhitelisted, now + age, 0},
		{"expired, seen again", indicator.StatusExpired, seen(now - 86400), false, indicator.StatusActive, now - 86400 + age, 0},
		{"expired, old sighting", indicator.StatusExpired, seen(now - 2*age), false, indicator.StatusExpired, now - age, 0},
		{"active, allow-listed now", indicator.StatusActive, seen(now), true, indicator.StatusWhitelisted, now + age, 0},
		{"review stays", indicator.StatusReview, seen(now - 2*age), false, indicator.StatusReview, now - age, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := &Stored{}
			if tc.before != "" {
				st = &Stored{Exists: true, Status: tc.before, Record: Record{Addr: tc.in.Addr}}
			}
			var c Counts
			if !ApplyLifecycle(st, tc.in, 1, NewLifecycle(now, age, tc.in.Has.Has(LastSeenAt), tc.allowlisted), &c) {
				t.Fatal("not written")
			}
			if st.Status != tc.want || st.ExpiresAt != tc.expires || c.IndicatorsExpired != tc.expired || st.SeenAt != now {
				t.Fatalf("status %s, expires %d, %d expired, seen %d; want %s, %d, %d", st.Status, st.ExpiresAt, c.IndicatorsExpired, st.SeenAt,
					tc.want, tc.expires, tc.expired)
			}
		})
	}
}

func TestCanSkip(t *testing.T) {
	const (
		now = int64(1_700_000_000)
		age = int64(90 * 86400)
	)
	st := func(s indicator.Status, exp int64) *Stored {
		return &Stored{Exists: true, Status: s, Hash: 7, ExpiresAt: exp}
	}
	lc := func(lastSeen, allow bool) Lifecycle { return NewLifecycle(now, age, lastSeen, allow) }
	for _, tc := range []struct {
		name string
		st   *Stored
		h    uint64
		lc   Lifecycle
		want bool
	}{
		{"same record, active", st(indicator.StatusActive, now+1), 7, lc(true, false), true},
		{"other record", st(indicator.StatusActive, now+1), 8, lc(true, false), false},
		{"active but due: must expire", st(indicator.StatusActive, now), 7, lc(true, false), false},
		{"expired by this same record", st(indicator.StatusExpired, now-1), 7, lc(true, false), true},
		{"expired, expiry moved on (age_out raised)", st(indicator.StatusExpired, now+1), 7, lc(true, false), false},
		{"no Last Seen At, fresh expiry", st(indicator.StatusActive, now+age-age/20), 7, lc(false, false), true},
		{"no Last Seen At, stale expiry", st(indicator.StatusActive, now+age-age/5), 7, lc(false, false), false},
		{"allow-listed, not yet Whitelisted", st(indicator.StatusActive, now+1), 7, lc(true, true), false},
		{"allow-listed, Whitelisted", st(indicator.StatusWhitelisted, now+1), 7, lc(true, true), true},
		{"review", st(indicator.StatusReview, now-1), 7, lc(true, false), true},
		{"age_out never, expired", st(indicator.StatusExpired, 0), 7, NewLifecycle(now, 0, true, false), false},
		{"age_out never, stored expiry to clear", st(indicator.StatusActive, now+1), 7, NewLifecycle(now, 0, true, false), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.st.CanSkip(tc.h, tc.lc); got != tc.want {
				t.Fatalf("CanSkip = %v, want %v", got, tc.want)
			}
		})
	}
}
