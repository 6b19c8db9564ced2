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

	"forewarn/internal/allowlist"
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
	var lines []jsonIndicator // the reference's (jsonl_internal_test.go)
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

// A list feed's networks (Spamhaus DROP's CIDRs) are listed by every
// format that can say "this range": as CIDRs in edl (plain, from the expiry
// index, and filtered), suricata-iprep, csv, jsonl and MISP; as
// Intel::SUBNET for Zeek, CrowdSec decisions of scope Range and STIX
// patterns on the CIDR. ECS leaves them out (its ip field holds one
// address), and a blocklist leaves out a network that overlaps the
// allow-list rather than block an allowed address.
func TestExportsListNetworks(t *testing.T) {
	ctx := context.Background()
	st := testutil.Store(t)
	if _, err := st.IngestList(ctx, store.ListRun{Feed: "drop", Source: "Spamhaus DROP", Mode: store.ModeSnapshot, Confidence: 90},
		&prefixes{p: []string{"45.0.0.1/32", "45.1.2.0/24", "45.1.2.7/32", "2a00:1::/48", "46.0.0.0/16"}}); err != nil {
		t.Fatal(err)
	}
	write := func(f Format, o Options) string {
		t.Helper()
		var b bytes.Buffer
		if err := Write(ctx, &b, st, f, o); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		return b.String()
	}
	const all = "45.0.0.1\n45.1.2.0/24\n45.1.2.7\n46.0.0.0/16\n2a00:1::/48\n"
	if got := write(EDL, Options{}); got != all {
		t.Errorf("plain edl (the expiry index):\n%s\nwant\n%s", got, all)
	}
	if got := write(EDL, Options{Filter: Filter{Feed: "drop"}}); got != all {
		t.Errorf("edl of feed drop (every indicator read):\n%s\nwant\n%s", got, all)
	}
	if got, want := write(EDL, Options{Aggregate: true}), "45.0.0.1/32\n45.1.2.0/24\n46.0.0.0/16\n2a00:1::/48\n"; got != want {
		t.Errorf("aggregated edl (the host inside the /24 merged into it):\n%s\nwant\n%s", got, want)
	}
	for f, want := range map[Format][]string{
		SuricataIPRep: {"45.1.2.0/24,", "2a00:1::/48,"},
		ZeekIntel:     {"45.1.2.0/24\tIntel::SUBNET\t", "45.0.0.1\tIntel::ADDR\t"},
		CrowdSec:      {`"value":"45.1.2.0/24","scope":"Range"`, `"value":"45.0.0.1","scope":"Ip"`},
		STIX:          {`[ipv4-addr:value = '45.1.2.0/24']`, `[ipv6-addr:value = '2a00:1::/48']`},
		CSV:           {"\n45.1.2.0/24,"},
		JSONL:         {`"type":"CIDR","value":"45.1.2.0/24"`},
	} {
		got := write(f, Options{})
		for _, w := range want {
			if !strings.Contains(got, w) {
				t.Errorf("%s does not list the network as %q:\n%s", f, w, got)
			}
		}
	}
	if got, want := write(EDL, Options{Filter: Filter{Max: 10}}), "45.0.0.1\n45.1.2.7\n"; got != want {
		t.Errorf("edl with a budget (which ranks addresses):\n%s\nwant\n%s", got, want)
	}
	if got := write(ECS, Options{}); strings.Contains(got, "45.1.2.0") || !strings.Contains(got, `"ip":"45.1.2.7"`) {
		t.Errorf("ecs: want the addresses only:\n%s", got)
	}

	if _, _, err := st.AddAllowlistEntry(ctx, allowlist.Entry{Prefix: netip.MustParsePrefix("45.1.2.128/25"), Comment: "ours"}); err != nil {
		t.Fatal(err)
	}
	const allowed = "45.0.0.1\n45.1.2.7\n46.0.0.0/16\n2a00:1::/48\n"
	for _, o := range []Options{{}, {Filter: Filter{Feed: "drop"}}} {
		if got := write(EDL, o); got != allowed {
			t.Errorf("edl %+v with 45.1.2.128/25 allow-listed:\n%s\nwant the /24 left out:\n%s", o, got, allowed)
		}
	}
	if got := write(CrowdSec, Options{}); strings.Contains(got, "45.1.2.0/24") {
		t.Errorf("crowdsec bans an allow-listed range:\n%s", got)
	}
	if got := write(JSONL, Options{}); !strings.Contains(got, `"value":"45.1.2.0/24"`) {
		t.Errorf("jsonl is not a blocklist: it lists the network still:\n%s", got)
	}
}
