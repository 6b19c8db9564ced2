package export_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"forewarn/internal/allowlist"
	"forewarn/internal/export"
	"forewarn/internal/indicator"
	"forewarn/internal/store"
)

// entries is a list feed's run: one entry per prefix.
type entries []string

func (e *entries) Next() (store.ListEntry, error) {
	if len(*e) == 0 {
		return store.ListEntry{}, io.EOF
	}
	p := netip.MustParsePrefix((*e)[0])
	*e = (*e)[1:]
	return store.ListEntry{Prefix: p}, nil
}

// unranked is the store seen as a plain source (no ranking index): a
// budget then goes through each indicator whole and a bounded heap.
type unranked struct{ st *store.Store }

func (u unranked) EachIndicator(ctx context.Context, fn func(*indicator.Indicator) error) error {
	return u.st.EachIndicator(ctx, fn)
}

func (u unranked) EachIndicatorNetblock(ctx context.Context, fn func(*indicator.Indicator, netip.Prefix) error) error {
	return u.st.EachIndicatorNetblock(ctx, fn)
}

func (u unranked) AllowlistEntries(ctx context.Context) ([]allowlist.Entry, error) {
	return u.st.AllowlistEntries(ctx)
}

// A crowdsec or suricata-iprep budget read lean through the ranking index
// (only the columns it writes) writes the same bytes as one built from
// whole indicators:
// sources from Seclytics and three list feeds (two of one source; listing
// an address Seclytics has, and a network), several categories, expiries (some
// passed), an allow-list entry, each rank and the store-side filters.
func TestBudgetReadLeanIsTheSame(t *testing.T) {
	ctx := context.Background()
	st := goldenStore(t)
	for _, f := range []struct {
		id, source string
		p          entries
	}{
		{"drop", "Spamhaus DROP", entries{"45.33.11.7/32", "192.0.2.9/32", "198.51.100.0/24"}},
		{"edrop", "Spamhaus DROP", entries{"45.33.11.7/32", "192.0.2.10/32"}}, // a source twice: named once
		{"cins", "CINS", entries{"45.33.11.7/32", "192.0.2.9/32", "192.0.2.10/32"}},
	} {
		if _, err := st.IngestList(ctx, store.ListRun{Feed: f.id, Source: f.source, Mode: store.ModeSnapshot, Confidence: 60}, &f.p); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := st.AddAllowlistEntry(ctx, allowlist.Entry{Prefix: netip.MustParsePrefix("45.33.10.2/32"), Comment: "ours"}); err != nil {
		t.Fatal(err)
	}
	seventy := 70
	write := func(src export.Source, f export.Format, o export.Options) string {
		t.Helper()
		var b bytes.Buffer
		if err := export.Write(ctx, &b, src, f, o); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	reasons := map[string]bool{}
	for _, at := range []time.Time{exportAt, exportAt.AddDate(0, 0, 25)} {
		for _, rank := range []string{export.RankImportance, export.RankConfidence, export.RankRecency} {
			for _, filter := range []export.Filter{{}, {Feed: "drop"}, {MinSources: 2}, {MinConfidence: &seventy}} {
				for _, max := range []int{1, 3, 100} {
					filter.Max, filter.Rank = max, rank
					o := export.Options{Filter: filter, Now: func() time.Time { return at }}
					name := fmt.Sprintf("at %s, rank %s, %+v", at.Format(time.DateOnly), rank, filter)
					if lean, whole := write(st, export.SuricataIPRep, o), write(unranked{st}, export.SuricataIPRep, o); lean != whole {
						t.Errorf("%s: suricata-iprep read lean (-whole +lean):\n%s", name, cmp.Diff(whole, lean))
					}
					lean, whole := write(st, export.CrowdSec, o), write(unranked{st}, export.CrowdSec, o)
					if diff := cmp.Diff(whole, lean); diff != "" {
						t.Errorf("%s: crowdsec read lean (-whole +lean):\n%s", name, diff)
					}
					for _, l := range strings.Split(lean, "\n") {
						if _, r, ok := strings.Cut(l, `"reason":"`); ok {
							reasons[r[:strings.IndexByte(r, '"')]] = true
						}
					}
				}
			}
		}
	}
	// The cases above wrote what they are meant to compare.
	for _, want := range []string{"Seclytics,CINS,Spamhaus DROP: botnet,malware", "CINS,Spamhaus DROP", "Seclytics: phishing,spam"} {
		if !reasons[want] {
			t.Errorf("no decision has the reason %q; reasons: %v", want, reasons)
		}
	}
}
