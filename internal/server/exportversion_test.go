package server

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"forewarn/internal/indicator"
	"forewarn/internal/merge"
	"forewarn/internal/testutil"
)

// TestExportValidatorsMoveWhenAnExpiryPasses: a blocklist leaves out an
// Active indicator the moment its expiry passes, before the expiry job
// marks it; the export validators (ETag seed and Last-Modified) move at
// that moment too, so a device polling with If-None-Match or
// If-Modified-Since downloads the shorter list instead of getting 304
// until the job runs. Before this, the seed came from the store's last
// update and count alone, which an expiry passing does not change.
func TestExportValidatorsMoveWhenAnExpiryPasses(t *testing.T) {
	st := testutil.Store(t)
	expiry := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	ind := &merge.Stored{Record: merge.Record{Addr: netip.MustParseAddr("198.51.100.7")}, Exists: true,
		Status: indicator.StatusActive, CreatedAt: 100, UpdatedAt: 200, ExpiresAt: expiry.Unix()}
	ctx := context.Background()
	tx, err := st.BeginIngest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Write(ctx, []*merge.Stored{ind}); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	at := func(now time.Time) (string, time.Time) {
		v, err := exportVersion(ctx, st, "n", 0, time.Time{}, now)
		if err != nil {
			t.Fatal(err)
		}
		return v.Seed, v.LastModified
	}
	before1, lm1 := at(expiry.Add(-time.Hour))
	before2, _ := at(expiry.Add(-time.Minute))
	after, lm2 := at(expiry.Add(time.Minute))
	if before1 != before2 {
		t.Errorf("the seed moved while nothing changed: %s, %s", before1, before2)
	}
	if after == before2 || !lm2.Equal(expiry) || !lm2.After(lm1) {
		t.Errorf("an expiry passed: seed %s (was %s), Last-Modified %s (was %s); want a new seed and Last-Modified at the expiry", after, before2, lm2, lm1)
	}
}
