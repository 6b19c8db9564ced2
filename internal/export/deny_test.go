package export

import (
	"context"
	"net/netip"
	"testing"

	"go4.org/netipx"

	"forewarn/internal/allowlist"
	"forewarn/internal/indicator"
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
