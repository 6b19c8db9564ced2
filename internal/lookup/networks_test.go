package lookup

import (
	"context"
	"io"
	"net/netip"
	"testing"
	"time"

	"forewarn/internal/store"
	"forewarn/internal/testutil"
)

type prefixList struct {
	p []netip.Prefix
	i int
}

func (l *prefixList) Next() (store.ListEntry, error) {
	if l.i == len(l.p) {
		return store.ListEntry{}, io.EOF
	}
	l.i++
	return store.ListEntry{Prefix: l.p[l.i-1]}, nil
}

func ingestPrefixes(t *testing.T, st *store.Store, feed string, ps ...string) {
	t.Helper()
	l := &prefixList{}
	for _, s := range ps {
		l.p = append(l.p, netip.MustParsePrefix(s))
	}
	if _, err := st.IngestList(context.Background(), store.ListRun{Feed: feed, Source: "Src " + feed, Mode: store.ModeSnapshot,
		Confidence: 60, Now: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)}, l); err != nil {
		t.Fatal(err)
	}
}

// An address inside a listed network is listed, naming the network; the
// most specific network wins, and a listed address is itself.
func TestLookupInListedNetwork(t *testing.T) {
	st := testutil.Store(t)
	ctx := context.Background()
	ingestPrefixes(t, st, "drop", "198.51.100.0/24", "198.51.0.0/16", "2001:db8::/32", "203.0.113.9/32")
	ingestPrefixes(t, st, "dshield", "198.51.100.0/24")
	svc := NewService(st)
	if err := svc.Rebuild(ctx); err != nil {
		t.Fatal(err)
	}
	snap, err := st.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	for _, tc := range []struct {
		addr, verdict, matched string
		feeds                  int
	}{
		{"198.51.100.7", VerdictListed, "198.51.100.0/24", 2},
		{"198.51.7.1", VerdictListed, "198.51.0.0/16", 1},
		{"2001:db8:1::5", VerdictListed, "2001:db8::/32", 1},
		{"::ffff:198.51.100.9", VerdictListed, "198.51.100.0/24", 2},
		{"203.0.113.9", VerdictListed, "", 1},
		{"192.0.2.1", VerdictUnknown, "", 0},
	} {
		a := netip.MustParseAddr(tc.addr)
		// The server's index over the whole store, and the CLI's over
		// a snapshot scoped to the address, answer alike.
		scoped := NewService(Scoped(snap, []netip.Addr{a}))
		if err := scoped.Rebuild(ctx); err != nil {
			t.Fatal(err)
		}
		for name, s := range map[string]*Service{"whole": svc, "scoped": scoped} {
			r, err := s.Lookup(ctx, a)
			if err != nil {
				t.Fatal(err)
			}
			matched := ""
			if r.Matched.IsValid() {
				matched = r.Matched.String()
			}
			if r.Verdict != tc.verdict || matched != tc.matched {
				t.Errorf("%s %s: %s matched %q, want %s matched %q", name, tc.addr, r.Verdict, matched, tc.verdict, tc.matched)
				continue
			}
			if r.Indicator == nil {
				continue
			}
			if got := len(r.Indicator.Feeds); got != tc.feeds {
				t.Errorf("%s %s: %d feeds, want %d", name, tc.addr, got, tc.feeds)
			}
			if tc.matched != "" && r.Indicator.Value() != tc.matched {
				t.Errorf("%s %s: indicator %s, want the network", name, tc.addr, r.Indicator.Value())
			}
		}
	}
}
