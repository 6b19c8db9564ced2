package export_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"forewarn/internal/export"
	"forewarn/internal/indicator"
	"forewarn/internal/merge"
	"forewarn/internal/store"
	"forewarn/internal/testutil"
)

// A sighting keeps an indicator Active past its feed's expiry until its
// sighted_until, and every blocklist agrees with what the API shows: the
// sighted indicator is listed by a plain edl, by every path a budget
// takes (the index walk for addresses alone, the walk that reads each
// indicator, the reads by key, the one pass over the table) and by the
// lean crowdsec read, whose decision lasts until sighted_until. An
// indicator past its expiry without a sighting (one the expiry job has not
// marked yet) is in none of them.
func TestASightedIndicatorStaysInEveryBlocklist(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st := testutil.Store(t)
	at := time.Unix(1_900_000_000, 0).UTC()
	row := func(ip string, expires time.Time, importance float64) *merge.Stored {
		r := &merge.Stored{Status: indicator.StatusActive, CreatedAt: at.Unix() - 86400, UpdatedAt: at.Unix() - 86400, ExpiresAt: expires.Unix()}
		r.Addr = netip.MustParseAddr(ip)
		r.Has = r.Has.With(merge.Importance)
		r.Importance = importance
		return r
	}
	testutil.Commit(t, st, []*merge.Stored{
		row("192.0.2.1", at.Add(-time.Hour), 90), // sighted below: Active until at+23h30m
		row("192.0.2.2", at.Add(2*time.Hour), 50),
		row("192.0.2.3", at.Add(-time.Hour), 70), // due, not sighted
	})
	if _, err := st.RecordSightings(ctx, []store.Sighting{{Addr: netip.MustParseAddr("192.0.2.1"), Count: 1,
		First: at.Add(-30 * time.Minute), Last: at.Add(-30 * time.Minute)}}, 24*time.Hour, at); err != nil {
		t.Fatal(err)
	}
	sightedUntil := at.Add(23*time.Hour + 30*time.Minute)
	ind, err := st.Lookup(ctx, netip.MustParseAddr("192.0.2.1"))
	if err != nil || ind.Status != indicator.StatusActive || ind.ExpiresAt == nil || !ind.ExpiresAt.Equal(sightedUntil) {
		t.Fatalf("the sighted indicator as the API shows it: %s, expires %v, %v; want Active until %s", ind.Status, ind.ExpiresAt, err, sightedUntil)
	}
	// The profiles' HTTP validators count the due ones the lists leave
	// out: the unsighted one only.
	if n, _, err := st.ActiveDue(ctx, at); err != nil || n != 1 {
		t.Errorf("ActiveDue: %d, %v; want 1 (192.0.2.3)", n, err)
	}

	want := "192.0.2.1 192.0.2.2"
	for _, c := range []struct{ max, held int }{{0, 0}, {2, 0}, {2, 1000}, {10, 0}, {10, 1000}} {
		for _, f := range []export.Format{export.EDL, export.CrowdSec, export.SuricataIPRep, export.ZeekIntel, export.ECS} {
			name := fmt.Sprintf("%s, max %d, held %d", f, c.max, c.held)
			var b bytes.Buffer
			o := export.Options{Filter: export.Filter{Max: c.max}, Now: func() time.Time { return at }, HeldBudget: c.held}
			if err := export.Write(ctx, &b, st, f, o); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			out := b.String()
			var got []string
			for _, ip := range []string{"192.0.2.1", "192.0.2.2", "192.0.2.3"} {
				if strings.Contains(out, ip) {
					got = append(got, ip)
				}
			}
			if strings.Join(got, " ") != want {
				t.Errorf("%s lists %v; want %s:\n%s", name, got, want, out)
			}
			if f != export.CrowdSec {
				continue
			}
			var decisions []struct{ Value, Duration string }
			if err := json.Unmarshal(b.Bytes(), &decisions); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			for _, d := range decisions {
				if d.Value == "192.0.2.1" && d.Duration != sightedUntil.Sub(at).String() {
					t.Errorf("%s: the sighted indicator's decision lasts %s; want %s, until its sighted_until", name, d.Duration, sightedUntil.Sub(at))
				}
			}
		}
	}
}
