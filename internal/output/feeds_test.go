package output_test

import (
	"context"
	"io"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"forewarn/internal/export"
	"forewarn/internal/output"
	"forewarn/internal/store"
	"forewarn/internal/testutil"
)

// entries is a list feed's file, one host or network a line.
type entries []string

func (e *entries) Next() (store.ListEntry, error) {
	if len(*e) == 0 {
		return store.ListEntry{}, io.EOF
	}
	p, err := netip.ParsePrefix((*e)[0])
	if err != nil {
		a := netip.MustParseAddr((*e)[0])
		p = netip.PrefixFrom(a, a.BitLen())
	}
	*e = (*e)[1:]
	return store.ListEntry{Prefix: p}, nil
}

// listStore is a store two list feeds ran into: alpha (confidence 90)
// lists 198.51.100.1-3 and the network 100.64.0.0/24 (which budgets,
// ranking addresses, leave out), beta (confidence 40) 198.51.100.3-5 and
// 203.0.113.7. The combined confidences: 198.51.100.3 94 (both feeds),
// 198.51.100.1 and .2 90, the others 40.
func listStore(t *testing.T) *store.Store {
	t.Helper()
	st := testutil.Store(t)
	for _, f := range []struct {
		id    string
		conf  int
		hosts entries
	}{
		{"alpha", 90, entries{"100.64.0.0/24", "198.51.100.1", "198.51.100.2", "198.51.100.3"}},
		{"beta", 40, entries{"198.51.100.3", "198.51.100.4", "198.51.100.5", "203.0.113.7"}},
	} {
		run := store.ListRun{Feed: f.id, Source: "Src " + f.id, Mode: store.ModeSnapshot, Confidence: f.conf, Now: now.Add(-time.Hour)}
		if _, err := st.IngestList(context.Background(), run, &f.hosts); err != nil {
			t.Fatal(err)
		}
	}
	return st
}

// TestProfileFiltersByFeedSourcesAndConfidence: a profile with feeds
// lists only what those feeds list now, with or without a budget (held
// in memory or read by key); minimum sources and confidence keep what a
// user asked for.
func TestProfileFiltersByFeedSourcesAndConfidence(t *testing.T) {
	st := listStore(t)
	fifty := 50
	cases := []struct {
		name string
		spec output.Spec
		want string
	}{
		{"feed alpha", output.Spec{Format: export.EDL, Feeds: []string{"alpha"}}, "100.64.0.0/24\n198.51.100.1\n198.51.100.2\n198.51.100.3\n"},
		{"feed beta", output.Spec{Format: export.EDL, Feeds: []string{"beta"}}, "198.51.100.3\n198.51.100.4\n198.51.100.5\n203.0.113.7\n"},
		{"feed alpha, budget 2", output.Spec{Format: export.EDL, Feeds: []string{"alpha"}, Max: 2}, "198.51.100.2\n198.51.100.3\n"},
		{"feed beta, budget 10", output.Spec{Format: export.EDL, Feeds: []string{"beta"}, Max: 10}, "198.51.100.3\n198.51.100.4\n198.51.100.5\n203.0.113.7\n"},
		{"either feed, budget 10", output.Spec{Format: export.EDL, Feeds: []string{"beta", "alpha"}, Max: 10},
			"198.51.100.1\n198.51.100.2\n198.51.100.3\n198.51.100.4\n198.51.100.5\n203.0.113.7\n"},
		{"a feed that lists nothing", output.Spec{Format: export.EDL, Feeds: []string{"gamma"}, Max: 10}, ""},
		{"two sources", output.Spec{Format: export.EDL, MinSources: 2}, "198.51.100.3\n"},
		{"two sources, budget 10", output.Spec{Format: export.EDL, MinSources: 2, Max: 10}, "198.51.100.3\n"},
		{"confidence 50", output.Spec{Format: export.EDL, MinConfidence: &fifty}, "100.64.0.0/24\n198.51.100.1\n198.51.100.2\n198.51.100.3\n"},
		{"confidence 50, budget 10", output.Spec{Format: export.EDL, MinConfidence: &fifty, Max: 10, Rank: store.RankConfidence},
			"198.51.100.1\n198.51.100.2\n198.51.100.3\n"},
	}
	for held, name := range map[int]string{20000: "held in memory", -1: "read by key"} {
		t.Run(name, func(t *testing.T) {
			defer output.SetHeldBudget(held)()
			for _, c := range cases {
				body, _ := render(t, st, c.spec, "")
				if diff := cmp.Diff(c.want, body); diff != "" {
					t.Errorf("%s (-want +got):\n%s", c.name, diff)
				}
			}
		})
	}
}

// TestConfidenceBudgetKeepsTheHighestStably: ranked by confidence, a
// budget of N keeps the N highest combined confidences, ties by address
// (the higher first), the same from one render to the next; its cut-off
// is the last kept confidence.
func TestConfidenceBudgetKeepsTheHighestStably(t *testing.T) {
	st := listStore(t)
	for held, name := range map[int]string{20000: "held in memory", -1: "read by key"} {
		t.Run(name, func(t *testing.T) {
			defer output.SetHeldBudget(held)()
			for range 3 {
				body, res := render(t, st, output.Spec{Format: export.EDL, Max: 3, Rank: store.RankConfidence}, "")
				if diff := cmp.Diff("198.51.100.1\n198.51.100.2\n198.51.100.3\n", body); diff != "" || res.CutOff != "90" || res.Entries != 3 {
					t.Fatalf("the 3 highest (-want +got), cut-off %q, entries %d:\n%s", res.CutOff, res.Entries, diff)
				}
				// 94, then the highest address of the four at 40.
				body, res = render(t, st, output.Spec{Format: export.EDL, Max: 2, Rank: store.RankConfidence, Feeds: []string{"beta"}}, "")
				if diff := cmp.Diff("198.51.100.3\n203.0.113.7\n", body); diff != "" || res.CutOff != "40" {
					t.Fatalf("beta's 2 highest (-want +got), cut-off %q:\n%s", res.CutOff, diff)
				}
			}
		})
	}
}
