package export

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/netip"
	"strings"
	"testing"

	"forewarn/internal/store"
	"forewarn/internal/testutil"
)

type prefixes struct {
	p []string
	i int
}

func (l *prefixes) Next() (store.ListEntry, error) {
	if l.i == len(l.p) {
		return store.ListEntry{}, io.EOF
	}
	l.i++
	return store.ListEntry{Prefix: netip.MustParsePrefix(l.p[l.i-1])}, nil
}

// The JSONL export names every source listing an indicator, and every
// format takes the feed, min-sources and min-confidence filters.
func TestExportListFeedFilters(t *testing.T) {
	ctx := context.Background()
	st := testutil.Store(t)
	for _, f := range []struct {
		id   string
		conf int
		p    []string
	}{{"drop", 80, []string{"192.0.2.1/32", "192.0.2.2/32"}}, {"cins", 30, []string{"192.0.2.2/32", "192.0.2.3/32"}}} {
		if _, err := st.IngestList(ctx, store.ListRun{Feed: f.id, Source: "Src " + f.id, Mode: store.ModeSnapshot, Confidence: f.conf},
			&prefixes{p: f.p}); err != nil {
			t.Fatal(err)
		}
	}
	export := func(f Format, o Options) string {
		t.Helper()
		var b bytes.Buffer
		if err := Write(ctx, &b, st, f, o); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	var lines []jsonIndicator
	for _, l := range strings.Split(strings.TrimSpace(export(JSONL, Options{})), "\n") {
		var ind jsonIndicator
		if err := json.Unmarshal([]byte(l), &ind); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, ind)
	}
	if len(lines) != 3 || strings.Join(lines[1].Sources, ",") != "Src cins,Src drop" || strings.Join(lines[0].Sources, ",") != "Src drop" {
		t.Fatalf("jsonl sources: %+v", lines)
	}
	eighty := 80
	for name, tc := range map[string]struct {
		o    Options
		want string
	}{
		"feed":           {Options{Filter: Filter{Feed: "cins"}}, "192.0.2.2\n192.0.2.3\n"},
		"min sources":    {Options{Filter: Filter{MinSources: 2}}, "192.0.2.2\n"},
		"min confidence": {Options{Filter: Filter{MinConfidence: &eighty}}, "192.0.2.1\n192.0.2.2\n"},
		"unknown feed":   {Options{Filter: Filter{Feed: "nope"}}, ""},
	} {
		if got := export(EDL, tc.o); got != tc.want {
			t.Errorf("%s: edl %q, want %q", name, got, tc.want)
		}
	}
	if err := Write(ctx, io.Discard, st, EDL, Options{Filter: Filter{MinSources: -1}}); err == nil {
		t.Error("min sources -1 accepted")
	}
}

// Every format writes an indicator only a list feed lists (no Seclytics
// attribute at all).
func TestExportListOnlyIndicatorInEveryFormat(t *testing.T) {
	ctx := context.Background()
	st := testutil.Store(t)
	if _, err := st.IngestList(ctx, store.ListRun{Feed: "drop", Source: "Spamhaus DROP", Mode: store.ModeSnapshot, Confidence: 90},
		&prefixes{p: []string{"192.0.2.7/32"}}); err != nil {
		t.Fatal(err)
	}
	for _, f := range []Format{JSONL, CSV, STIX, EDL, SuricataIPRep, ZeekIntel} {
		var b bytes.Buffer
		if err := Write(ctx, &b, st, f, Options{}); err != nil {
			t.Errorf("%s: %v", f, err)
		}
		if f != SuricataIPRep && !strings.Contains(b.String(), "192.0.2.7") {
			t.Errorf("%s leaves out the listed address:\n%s", f, b.String())
		}
	}
}

// A budget ranked by confidence keeps the indicators the most confident
// sources list; ranked by importance (none here), the highest addresses.
func TestExportBudgetRankedByConfidence(t *testing.T) {
	ctx := context.Background()
	st := testutil.Store(t)
	for _, f := range []struct {
		id   string
		conf int
		p    []string
	}{{"low", 30, []string{"192.0.2.8/32", "192.0.2.9/32"}}, {"high", 90, []string{"192.0.2.1/32", "192.0.2.2/32"}}} {
		if _, err := st.IngestList(ctx, store.ListRun{Feed: f.id, Source: f.id, Mode: store.ModeSnapshot, Confidence: f.conf},
			&prefixes{p: f.p}); err != nil {
			t.Fatal(err)
		}
	}
	for rank, want := range map[string]string{"": "192.0.2.8\n192.0.2.9\n", RankConfidence: "192.0.2.1\n192.0.2.2\n"} {
		var b bytes.Buffer
		if err := Write(ctx, &b, st, EDL, Options{Filter: Filter{Max: 2, Rank: rank}}); err != nil {
			t.Fatal(err)
		}
		if b.String() != want {
			t.Errorf("rank %q: %q, want %q", rank, b.String(), want)
		}
	}
	if err := Write(ctx, io.Discard, st, EDL, Options{Filter: Filter{Max: 2, Rank: "age"}}); !errors.Is(err, ErrBadFilter) {
		t.Errorf("rank age: %v", err)
	}
}

// A plain blocklist (every Active indicator, read from the expiry index)
// lists the addresses list feeds store and skips their networks, which
// have 17-byte keys, instead of failing on them.
func TestPlainEDLSkipsListedNetworks(t *testing.T) {
	ctx := context.Background()
	st := testutil.Store(t)
	if _, err := st.IngestList(ctx, store.ListRun{Feed: "drop", Source: "Spamhaus DROP", Mode: store.ModeSnapshot, Confidence: 90},
		&prefixes{p: []string{"192.0.2.1/32", "198.51.100.0/24"}}); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := Write(ctx, &b, st, EDL, Options{}); err != nil {
		t.Fatalf("plain edl with a listed network: %v", err)
	}
	if b.String() != "192.0.2.1\n" {
		t.Errorf("plain edl: %q, want only the address", b.String())
	}
}
