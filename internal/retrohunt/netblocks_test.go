package retrohunt

import (
	"context"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"

	"forewarn/internal/indicator"
	"forewarn/internal/lookup"
	"forewarn/internal/merge"
	"forewarn/internal/testutil"
)

// A match reads the netblocks from one row per netblock, not from the
// lookup index built from every member; both must give the same netblocks
// holding an address, most specific first, with the same highest
// Importance: nested netblocks, one without any Importance, IPv6, and a
// netblock too wide to mean anything (ignored by both).
func TestNetblocksAgreeWithTheLookupIndex(t *testing.T) {
	ctx := context.Background()
	st := testutil.Store(t)
	var rows []*merge.Stored
	for _, m := range []struct {
		ip, nb string
		imp    float64 // 0: none stored
	}{
		{"45.33.12.7", "45.33.12.0/24", 80}, {"45.33.12.9", "45.33.12.0/24", 30},
		{"45.33.12.200", "45.33.12.128/25", 50}, {"45.33.0.5", "45.33.0.0/16", 0},
		{"45.34.1.1", "0.0.0.0/0", 99}, {"2a03:2880:10::5", "2a03:2880:10::/48", 60},
	} {
		s := &merge.Stored{Record: merge.Record{Addr: netip.MustParseAddr(m.ip)}, Exists: true, New: true,
			Status: indicator.StatusActive, CreatedAt: 100, UpdatedAt: 100}
		if m.imp != 0 {
			s.Has = s.Has.With(merge.Importance)
			s.Importance = m.imp
		}
		s.LookupNetblock = netip.MustParsePrefix(m.nb)
		rows = append(rows, s)
	}
	testutil.Commit(t, st, rows)
	ix, err := lookup.Build(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	res, err := NewStoreResolver(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	type nb struct {
		Netblock      string
		MaxImportance *float64
	}
	project := func(s []lookup.Summary) []nb {
		var out []nb
		for _, x := range s {
			out = append(out, nb{x.Netblock.String(), x.MaxImportance})
		}
		return out
	}
	imp := func(f float64) *float64 { return &f }
	want := map[string][]nb{
		"45.33.12.130":     {{"45.33.12.128/25", imp(50)}, {"45.33.12.0/24", imp(80)}, {"45.33.0.0/16", nil}},
		"45.33.12.10":      {{"45.33.12.0/24", imp(80)}, {"45.33.0.0/16", nil}},
		"45.33.7.7":        {{"45.33.0.0/16", nil}},
		"45.34.1.2":        nil, // only in the too-wide 0.0.0.0/0
		"8.8.8.8":          nil,
		"2a03:2880:10::9":  {{"2a03:2880:10::/48", imp(60)}},
		"2a03:2880:11::1":  nil,
		"::ffff:45.33.7.7": {{"45.33.0.0/16", nil}},
	}
	for a, w := range want {
		addr := netip.MustParseAddr(a)
		got := project(res.Lookups.Containing(addr))
		if d := cmp.Diff(w, got); d != "" {
			t.Errorf("%s (-want +got):\n%s", a, d)
		}
		if d := cmp.Diff(project(ix.Containing(addr)), got); d != "" {
			t.Errorf("%s, lookup index (-want) and match's (+got):\n%s", a, d)
		}
	}
}
