package feeddef

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// snapshot is what a built-in definition must read from one real
// snapshot in testdata/feeds (counted by hand with grep, cut and comm).
type snapshot struct {
	file    string
	entries int      // entries returned
	unique  int      // distinct prefixes among them
	invalid []string // "line N: reason"
	first   string   // the first entry, as entryString writes it
}

// change is what changed between two consecutive snapshots.
type change struct {
	added, removed int
	// someAdded and someRemoved name entries (the first in sort order).
	someAdded, someRemoved string
}

var fixtureRuns = []struct {
	id, dir string
	snaps   []snapshot
	changes []change // changes[i] is from snaps[i] to snaps[i+1]
}{
	{"spamhaus-drop", "spamhaus-drop", []snapshot{
		// 62.60.226.0/24 is listed twice (SBL697779 and SBL671779).
		{"2026-08-12.txt", 1687, 1686, nil, "1.10.16.0/20 line 5 [SBL ID=SBL256894]"},
		{"2026-08-22.txt", 1699, 1698, nil, "1.10.16.0/20 line 5 [SBL ID=SBL256894]"},
	}, []change{{17, 5, "103.163.162.0/23", "103.192.184.0/22"}}},
	{"spamhaus-edrop", "spamhaus-edrop", []snapshot{
		{"2023-03-03.txt", 201, 201, nil, "5.105.101.0/24 line 5 [SBL ID=SBL618063]"},
		{"2023-12-01.txt", 289, 289, nil, "2.56.247.0/24 line 5 [SBL ID=SBL620754]"},
		// Retired: a header and "; EOF", no entries, so everything is delisted.
		{"2024-10-18.txt", 0, 0, nil, ""},
	}, []change{{203, 115, "101.99.92.0/24", "103.99.54.0/24"}, {0, 289, "", "101.99.92.0/24"}}},
	{"spamhaus-dropv6", "spamhaus-dropv6", []snapshot{
		{"2024-10-17.txt", 78, 78, nil, "2001:678:6c4::/48 line 5 [SBL ID=SBL626637]"},
		{"2025-01-15.txt", 78, 78, nil, "2001:678:6c4::/48 line 5 [SBL ID=SBL626637]"},
	}, []change{{2, 2, "2a11:9c00::/40", "2602:f91d::/40"}}},
	{"spamhaus-drop-json", "spamhaus-drop-v4-json", []snapshot{
		// The last line is the metadata object: not an entry, not invalid.
		{"2026-07-16.json", 1678, 1677, nil, "1.10.16.0/20 line 1 [SBL ID=SBL256894 RIR=apnic]"},
		{"2026-07-23.json", 1670, 1669, nil, "1.10.16.0/20 line 1 [SBL ID=SBL256894 RIR=apnic]"},
	}, []change{{6, 14, "138.241.0.0/16", "103.111.90.0/23"}}},
	{"feodo", "feodo-ipblocklist-csv", []snapshot{
		// CRLF, a quoted header row after the # banner, "# END n entries",
		// no final newline; an address may be listed on several ports.
		{"2021-10-25.csv", 470, 448, nil, "51.178.161.32/32 line 10 first 2021-01-17T07:44:46Z last 2021-10-25T00:00:00Z [Port=4643 C2 Status=online Malware=Dridex]"},
		{"2021-12-20.csv", 750, 728, nil, "51.178.161.32/32 line 10 first 2021-01-17T07:44:46Z last 2021-12-20T00:00:00Z [Port=4643 C2 Status=online Malware=Dridex]"},
		{"2025-06-25.csv", 1, 1, nil, "162.243.103.246/32 line 10 first 2022-06-04T21:24:53Z last 2025-06-18T00:00:00Z [Port=8080 C2 Status=offline Malware=Emotet]"},
	}, []change{{529, 249, "1.234.65.61", "103.113.105.126"}, {1, 728, "162.243.103.246", "1.234.21.73"}}},
	{"sslbl", "sslbl-ipblacklist-csv", []snapshot{
		// 2015's legacy layout: "# DstIP,DstPort" names two of three columns.
		{"2015-10-15.csv", 83, 83, nil, "104.130.17.100/32 line 10 [Port=443]"},
		{"2021-03-20.csv", 138, 130, nil, "198.23.212.148/32 line 10 [Port=8808]"},
	}, []change{{130, 83, "101.200.178.253", "104.130.17.100"}}},
	{"blocklist-de", "blocklist-de-all", []snapshot{
		{"2026-08-21.txt", 24903, 24903, nil, "1.10.222.205/32 line 1 []"},
		{"2026-08-22.txt", 25961, 25961, nil, "1.10.247.163/32 line 1 []"},
	}, []change{{5045, 3987, "1.10.247.163", "1.10.222.205"}}},
	{"cins", "cins-ci-badguys", []snapshot{
		{"2021-03-21.txt", 3000, 3000, nil, "1.119.44.11/32 line 1 []"},
		{"2022-07-22.txt", 3000, 3000, nil, "1.11.194.81/32 line 1 []"},
	}, []change{{2919, 2919, "1.11.194.81", "1.119.44.11"}}},
	{"et-compromised", "et-compromised-ips", []snapshot{
		{"2026-08-20.txt", 521, 521, nil, "101.100.216.61/32 line 1 []"},
		{"2026-08-21.txt", 539, 539, nil, "101.100.216.61/32 line 1 []"},
	}, []change{{38, 20, "103.159.85.90", "103.160.5.123"}}},
	{"et-block", "et-emerging-block-ips", []snapshot{
		{"2022-01-25.txt", 2116, 2116, nil, "222.222.222.222/32 line 43 []"},
	}, nil},
	{"ipsum", "ipsum", []snapshot{
		{"2025-02-08.txt", 3000, 3000, nil, "134.209.120.69/32 line 8 [Lists=9]"},
		{"2026-08-22.txt", 3000, 3000, nil, "77.90.185.20/32 line 8 [Lists=10]"},
	}, []change{{2814, 2814, "1.209.110.147", "1.197.78.123"}}},
	{"firehol-level1", "firehol-level1", []snapshot{
		{"2021-03-27.netset", 2744, 2744, []string{"line 2779: 224.0.0.0/3 is wider than /8, the widest prefix this feed accepts (indicator.max_prefix)"}, "0.0.0.0/8 line 35 []"},
		{"2022-01-24.netset", 2510, 2510, []string{"line 2544: 224.0.0.0/3 is wider than /8, the widest prefix this feed accepts (indicator.max_prefix)"}, "0.0.0.0/8 line 34 []"},
	}, []change{{453, 687, "102.216.0.0/17", "102.216.0.0/14"}}},
	{"tor-exits", "tor-exit-addresses", []snapshot{
		// One entry per ExitAddress line; relays share addresses.
		{"2018-10-11", 923, 859, nil, "162.247.74.201/32 line 4 last 2018-10-11T12:07:38Z [Relay=0011BD2485AD45D984EC4159C88FC066E5E3300E Published=2018-10-11T11:09:54Z Last Status=2018-10-11T12:02:41Z]"},
		{"2024-03-12", 750, 393, nil, "185.241.208.232/32 line 4 last 2024-03-12T08:10:51Z [Relay=FE39F07EBE7870DCE124AB30DF3ABD0700A43F75 Published=2024-03-11T13:07:19Z Last Status=2024-03-12T08:00:00Z]"},
	}, []change{{338, 804, "102.130.113.9", "103.234.220.195"}}},
	{"tor-bulk", "tor-bulk-exit-list", []snapshot{
		{"2023-10-14", 1305, 1305, nil, "185.241.208.232/32 line 1 []"},
		{"2024-03-12", 1174, 1174, nil, "185.241.208.232/32 line 1 []"},
	}, []change{{317, 448, "103.106.3.94", "103.20.222.97"}}},
	{"dshield", "dshield-block", []snapshot{
		// Early 2023 copies have an uncommented column-name row.
		{"2023-01-01.txt", 20, 20, []string{`line 29: "Start" is not an IP address`},
			"180.150.9.0/24 line 30 [Attacks=10400 Network Name=WIDEBAND-AS-AP Aussie Broadband Country=AU Abuse Contact=abuse@aussiebroadband.com.au]"},
		{"2026-08-21.txt", 20, 20, nil, "66.132.186.0/24 line 29 [Attacks=191 Network Name=- Country=- Abuse Contact=-]"},
		{"2026-08-22.txt", 20, 20, nil, "16.5.0.0/24 line 29 [Attacks=117 Network Name=- Country=- Abuse Contact=-]"},
	}, []change{{19, 19, "146.88.241.0/24", "146.88.240.0/24"}, {20, 20, "100.29.192.0/24", "146.88.241.0/24"}}},
}

func entryString(e *Entry) string {
	s := fmt.Sprintf("%s line %d", e.Prefix, e.Line)
	if !e.FirstSeen.IsZero() {
		s += " first " + e.FirstSeen.Format(time.RFC3339)
	}
	if !e.LastSeen.IsZero() {
		s += " last " + e.LastSeen.Format(time.RFC3339)
	}
	s += " ["
	for i, a := range e.Attrs {
		if i > 0 {
			s += " "
		}
		v := a.Value.String()
		if t, ok := a.Value.AsTime(); ok {
			v = t.Format(time.RFC3339)
		}
		s += a.Name + "=" + v
	}
	return s + "]"
}

// readAll reads a body with a built-in definition and its defaults.
func readAll(t *testing.T, d *Definition, path string) (entries []string, set map[netip.Prefix]bool, r *Reader) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	body, err := d.Decompress(f, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	defer body.Close()
	r, err = d.NewReader(body, Params{Now: time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	set = map[netip.Prefix]bool{}
	for {
		e, err := r.Next()
		if errors.Is(err, io.EOF) {
			return entries, set, r
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		entries = append(entries, entryString(e))
		set[e.Prefix] = true
	}
}

// name writes a single address without its /32 or /128, as the feeds do.
func name(p netip.Prefix) string {
	if p.IsSingleIP() {
		return p.Addr().String()
	}
	return p.String()
}

func diff(from, to map[netip.Prefix]bool) (added, removed []string) {
	for p := range to {
		if !from[p] {
			added = append(added, name(p))
		}
	}
	for p := range from {
		if !to[p] {
			removed = append(removed, name(p))
		}
	}
	sort.Strings(added)
	sort.Strings(removed)
	return added, removed
}

// TestBuiltinsOnRealSnapshots reads every real snapshot with its built-in
// definition: entry counts, invalid lines and what changed between
// snapshots are what a user of that feed would see.
func TestBuiltinsOnRealSnapshots(t *testing.T) {
	seen := map[string]bool{}
	for _, fx := range fixtureRuns {
		t.Run(fx.id, func(t *testing.T) {
			d := Builtin(fx.id)
			if d == nil {
				t.Fatalf("no built-in definition %q", fx.id)
			}
			seen[fx.id] = true
			if _, err := os.Stat(filepath.Join("testdata/feeds", fx.dir, "SOURCE.md")); err != nil {
				t.Errorf("the fixtures' SOURCE.md is missing: %v", err)
			}
			var prev map[netip.Prefix]bool
			for i, s := range fx.snaps {
				entries, set, r := readAll(t, d, filepath.Join("testdata/feeds", fx.dir, s.file))
				var invalid []string
				for _, p := range r.Problems() {
					invalid = append(invalid, p.String())
				}
				if len(entries) != s.entries || len(set) != s.unique || r.Stats().Entries != int64(s.entries) {
					t.Errorf("%s: %d entries (%d distinct), want %d (%d)", s.file, len(entries), len(set), s.entries, s.unique)
				}
				if diff := cmp.Diff(s.invalid, invalid); diff != "" {
					t.Errorf("%s: invalid lines (-want +got):\n%s", s.file, diff)
				}
				if int(r.Stats().Invalid) != len(s.invalid) {
					t.Errorf("%s: %d invalid lines counted, want %d", s.file, r.Stats().Invalid, len(s.invalid))
				}
				if len(entries) > 0 && entries[0] != s.first {
					t.Errorf("%s: first entry\n got %s\nwant %s", s.file, entries[0], s.first)
				}
				if i > 0 {
					c := fx.changes[i-1]
					added, removed := diff(prev, set)
					if len(added) != c.added || len(removed) != c.removed {
						t.Errorf("%s after %s: +%d -%d, want +%d -%d", s.file, fx.snaps[i-1].file, len(added), len(removed), c.added, c.removed)
					}
					if len(added) > 0 && added[0] != c.someAdded || len(removed) > 0 && removed[0] != c.someRemoved {
						t.Errorf("%s: first added %v removed %v, want %s and %s", s.file, added[:min(1, len(added))], removed[:min(1, len(removed))], c.someAdded, c.someRemoved)
					}
				}
				prev = set
			}
		})
	}
	for _, d := range Builtins() {
		if !seen[d.ID] && d.ID != "seclytics" {
			t.Errorf("built-in %s has no fixture test", d.ID)
		}
	}
}
