package export

import (
	"bytes"
	"context"
	"net/netip"
	"testing"

	"go4.org/netipx"

	"forewarn/internal/allowlist"
	"forewarn/internal/indicator"
	"forewarn/internal/merge"
	"forewarn/internal/testutil"
)

type allowSource struct{ entries []allowlist.Entry }

func (allowSource) EachIndicator(context.Context, func(*indicator.Indicator) error) error { return nil }
func (s allowSource) AllowlistEntries(context.Context) ([]allowlist.Entry, error) {
	return s.entries, nil
}

// TestClipLeavesOutDeniedRanges: a range is written minus the allow-list
// and the special-purpose ranges, and only those.
func TestClipLeavesOutDeniedRanges(t *testing.T) {
	partner := netip.MustParsePrefix("45.33.12.128/25")
	d, err := loadDenied(context.Background(), allowSource{[]allowlist.Entry{{Prefix: partner}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []string{"0.0.0.0/0", "::/0", "45.33.0.0/16", "10.1.0.0/16", "8.8.8.0/24"} {
		p := netip.MustParsePrefix(r)
		var got netipx.IPSetBuilder
		for _, q := range d.clip(nil, netipx.RangeOfPrefix(p)) {
			got.AddPrefix(q)
		}
		var want netipx.IPSetBuilder
		want.AddPrefix(p)
		want.RemovePrefix(partner)
		for _, e := range allowlist.Special() {
			want.RemovePrefix(e.Prefix)
		}
		g, _ := got.IPSet()
		w, _ := want.IPSet()
		if !g.Equal(w) {
			t.Errorf("clip(%s) = %v, want %v", r, g.Prefixes(), w.Prefixes())
		}
	}
}

// TestWideStoredNetblocksAreNotExported: a 0.0.0.0/0 or ::/0 stored before
// netblocks were checked at ingest is left out of edl --netblocks.
func TestWideStoredNetblocksAreNotExported(t *testing.T) {
	ctx := context.Background()
	st := testutil.Store(t)
	tx, err := st.BeginIngest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var rows []*merge.Stored
	for ip, nb := range map[string]string{"45.33.12.7": "0.0.0.0/0", "2a03:2880:10::5": "::/0", "45.33.12.9": "45.33.12.0/24"} {
		s := &merge.Stored{Record: merge.Record{Addr: netip.MustParseAddr(ip)}, Exists: true, New: true,
			Status: indicator.StatusActive, CreatedAt: 100, UpdatedAt: 100}
		s.Has = s.Has.With(merge.Importance).With(merge.PredictedNetblock)
		s.Importance, s.PredictedNetblock = 80, netip.MustParsePrefix(nb)
		s.LookupNetblock = s.PredictedNetblock
		rows = append(rows, s)
	}
	if err := tx.Write(ctx, rows); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	for _, agg := range []bool{false, true} {
		var b bytes.Buffer
		if err := Write(ctx, &b, st, EDL, Options{Netblocks: true, Aggregate: agg}); err != nil {
			t.Fatal(err)
		}
		if b.String() != "45.33.12.0/24\n" {
			t.Errorf("edl --netblocks (aggregate %v): %q, want only 45.33.12.0/24", agg, b.String())
		}
	}
}
