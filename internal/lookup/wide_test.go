package lookup

import (
	"context"
	"net/netip"
	"testing"

	"forewarn/internal/indicator"
	"forewarn/internal/merge"
	"forewarn/internal/testutil"
)

// A store may hold a 0.0.0.0/0 or ::/0 lookup netblock written before
// netblocks were checked at ingest (a row's netblock is kept until a later
// row brings another). The index ignores netblocks that wide, so that
// such a store does not put every address in a predicted netblock.
func TestWideStoredNetblocksAreIgnored(t *testing.T) {
	ctx := context.Background()
	st := testutil.Store(t)
	var rows []*merge.Stored
	for ip, nb := range map[string]string{"45.33.12.7": "0.0.0.0/0", "2a03:2880:10::5": "::/0", "45.33.12.9": "45.33.12.0/24"} {
		s := &merge.Stored{Record: merge.Record{Addr: netip.MustParseAddr(ip)}, Exists: true, New: true,
			Status: indicator.StatusActive, CreatedAt: 100, UpdatedAt: 100}
		s.Has = s.Has.With(merge.Importance)
		s.Importance, s.LookupNetblock = 80, netip.MustParsePrefix(nb)
		rows = append(rows, s)
	}
	testutil.Commit(t, st, rows)
	svc := NewService(st)
	if err := svc.Rebuild(ctx); err != nil {
		t.Fatal(err)
	}
	for ip, want := range map[string]string{
		"8.8.8.8": VerdictUnknown, "2001:4860::8888": VerdictUnknown,
		"45.33.12.7": VerdictListed, "45.33.12.10": VerdictInNetblock,
	} {
		res, err := svc.Lookup(ctx, netip.MustParseAddr(ip))
		if err != nil || res.Verdict != want {
			t.Errorf("lookup %s: %+v %v, want %s", ip, res, err, want)
		}
	}
}
