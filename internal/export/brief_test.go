package export_test

import (
	"bytes"
	"context"
	"encoding/json"
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

// A budget read lean through the ranking index (crowdsec and
// suricata-iprep: only the columns they write; the other formats: only the
// attributes they write, without their times) writes the same bytes, in
// every format, as one built from whole indicators and ranked in a heap
// (for misp-feed, each event's attributes):
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
	// One indicator brought back after a revocation (generation 1): the
	// lean read must hand out its generation, or STIX names it by the
	// revoked id and leaves out the superseded one.
	if _, err := st.SetIndicatorStatus(ctx, netip.MustParseAddr("45.33.11.7"), indicator.StatusWhitelisted); err != nil {
		t.Fatal(err)
	}
	if renewed, err := st.SetIndicatorStatus(ctx, netip.MustParseAddr("45.33.11.7"), indicator.StatusActive); err != nil || renewed.Generation != 1 {
		t.Fatalf("renewed: generation %d, %v; want 1", renewed.Generation, err)
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
	written := map[export.Format]string{}
	for _, at := range []time.Time{exportAt, exportAt.AddDate(0, 0, 25)} {
		for _, rank := range []string{export.RankImportance, export.RankConfidence, export.RankRecency} {
			for _, filter := range []export.Filter{{}, {Feed: "drop"}, {MinSources: 2}, {MinConfidence: &seventy}} {
				for _, c := range []struct{ max, held int }{{1, 1000}, {3, 1000}, {100, 1000}, {3, 0}, {100, 0}} {
					// held 1000: held in memory; 0 (the default): the
					// kept addresses first, then their indicators by key.
					filter.Max, filter.Rank = c.max, rank
					o := export.Options{Filter: filter, Now: func() time.Time { return at }, HeldBudget: c.held}
					name := fmt.Sprintf("at %s, rank %s, held %d, %+v", at.Format(time.DateOnly), rank, c.held, filter)
					for _, f := range export.Formats {
						if f.Directory() {
							continue
						}
						lean, whole := write(st, f, o), write(unranked{st}, f, o)
						if diff := cmp.Diff(whole, lean); diff != "" {
							t.Errorf("%s: %s read lean (-whole +lean):\n%s", name, f, diff)
						}
						written[f] += lean
					}
					for event, lean := range mispAttributes(t, st, o) {
						whole := mispAttributes(t, unranked{st}, o)[event]
						if diff := cmp.Diff(whole, lean); diff != "" {
							t.Errorf("%s: misp-feed event %s read lean (-whole +lean):\n%s", name, event, diff)
						}
						written[export.MISPFeed] += lean
					}
					for _, l := range strings.Split(write(st, export.CrowdSec, o), "\n") {
						if _, r, ok := strings.Cut(l, `"reason":"`); ok {
							reasons[r[:strings.IndexByte(r, '"')]] = true
						}
					}
				}
			}
		}
	}
	// The cases above wrote what they are meant to compare: each
	// attribute a format reads, in that format.
	for f, want := range map[export.Format][]string{
		export.ZeekIntel: {"categories botnet,malware; importance 90; cluster c-bot-2; last seen 2026-04-25T00:00:00Z"},
		export.CSV:       {"2026-04-02T00:00:00Z,45.33.0.0/16,botnet,c-bot-2,abuse_ch_feodo;spamhaus_xbl,emotet;feodo,botnet;malware,2026-04-12T00:00:00Z,2026-04-25T00:00:00Z,90"},
		export.JSONL:     {`"name":"Normalized Importance"`, `"name":"Detected Identifiers","value":"emotet"`},
		export.STIX:      {`"x_seclytics_detected_by":["abuse_ch_feodo","spamhaus_xbl"]`, `"x_seclytics_cluster":"c-bot-2"`, `"x_seclytics_predicted_netblock":"45.33.0.0/16"`},
		export.ECS:       {`"first_seen":"2026-04-02T00:00:00.000Z"`, `predicted netblock 45.33.0.0/16`},
		export.MISPFeed:  {`"first_seen":"2026-04-02T00:00:00.000000+00:00"`, `forewarn:category=\"botnet\"`},
	} {
		for _, w := range want {
			if !strings.Contains(written[f], w) {
				t.Errorf("no %s export has %s", f, w)
			}
		}
	}
	for _, want := range []string{"Seclytics,CINS,Spamhaus DROP: botnet,malware", "CINS,Spamhaus DROP", "Seclytics: phishing,spam"} {
		if !reasons[want] {
			t.Errorf("no decision has the reason %q; reasons: %v", want, reasons)
		}
	}
}

// mispAttributes are the attributes of each event of src's MISP feed
// (their events' heads aside: their timestamps come from the store's
// indexes or from every indicator), by event file.
func mispAttributes(t *testing.T, src export.Source, o export.Options) map[string]string {
	t.Helper()
	ctx := context.Background()
	var manifest bytes.Buffer
	if _, err := export.WriteMISPFile(ctx, &manifest, src, o, export.MISPManifest); err != nil {
		t.Fatal(err)
	}
	var events map[string]json.RawMessage
	if err := json.Unmarshal(manifest.Bytes(), &events); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for id := range events {
		var b bytes.Buffer
		if _, err := export.WriteMISPFile(ctx, &b, src, o, id+".json"); err != nil {
			t.Fatal(err)
		}
		_, attrs, ok := strings.Cut(b.String(), `"Attribute":[`)
		if !ok {
			t.Fatalf("event %s has no attributes: %.300s", id, b.String())
		}
		out[id] = attrs
	}
	return out
}
