package store

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"forewarn/internal/indicator"
	"forewarn/internal/merge"
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
