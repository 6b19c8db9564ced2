package prediction

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"forewarn/internal/dump"
	"forewarn/internal/indicator"

	"github.com/google/go-cmp/cmp"
)

func record(kv map[dump.Column]string) *dump.Record {
	rec := &dump.Record{Line: 7}
	for c, v := range kv {
		rec.Fields[c] = []byte(v)
	}
	return rec
}

func TestParseIP(t *testing.T) {
	for in, want := range map[string]string{
		"1.2.3.4":                "1.2.3.4",
		"0.0.0.0":                "0.0.0.0",
		"255.255.255.255":        "255.255.255.255",
		"::ffff:1.2.3.4":         "1.2.3.4",
		"2001:DB8:0:0:0:0:0:1":   "2001:db8::1",
		"2001:0db8::0001":        "2001:db8::1",
		"010.1.2.3":              "",
		"1.2.3.04":               "",
		"256.1.2.3":              "",
		"1.2.3":                  "",
		"1.2.3.4.5":              "",
		"1..2.3":                 "",
		"fe80::1%eth0":           "",
		"not-an-ip":              "",
		"":                       "",
		" 1.2.3.4":               "",
		"1.2.3.4/24":             "",
		"::ffff:010.1.2.3":       "",
		"2001:db8::g":            "",
		"1.2.3.4\x00":            "",
		"99999999999999999999.1": "",
	} {
		got, ok := ParseIP([]byte(in))
		if want == "" {
			if ok {
				t.Errorf("ParseIP(%q) = %v, want invalid", in, got)
			}
			continue
		}
		if !ok || got.String() != want {
			t.Errorf("ParseIP(%q) = %v, %v; want %s", in, got, ok, want)
		}
	}
}

func TestParseDate(t *testing.T) {
	for in, want := range map[string]string{
		"2021-02-09T00:00:00":       "2021-02-09T00:00:00Z",
		"2021-02-09T00:00:00Z":      "2021-02-09T00:00:00Z",
		"2021-02-09T02:00:00+02:00": "2021-02-09T00:00:00Z",
		"2021-02-09T00:00:00.5Z":    "2021-02-09T00:00:00Z",
		"2021-02-09 13:14:15":       "2021-02-09T13:14:15Z",
		"2021-02-09":                "2021-02-09T00:00:00Z",
		"2024-02-29":                "2024-02-29T00:00:00Z",
		"1969-12-31":                "1969-12-31T00:00:00Z",
		"2023-02-29":                "",
		"2021-13-01":                "",
		"2021-02-09T25:00:00":       "",
		"2021/02/09":                "",
		"yesterday":                 "",
		"2021-02-09T00:00":          "",
		"2021-02-09T00:00:00+0200x": "",
	} {
		got, ok := ParseDate([]byte(in))
		if want == "" {
			if ok {
				t.Errorf("ParseDate(%q) accepted", in)
			}
			continue
		}
		if !ok {
			t.Errorf("ParseDate(%q) rejected", in)
			continue
		}
		if s := fmtTime(got); s != want {
			t.Errorf("ParseDate(%q) = %s, want %s", in, s, want)
		}
	}
}

func TestImportance(t *testing.T) {
	for in, want := range map[string]string{
		"0": "0", "100": "100", "70": "70", "85.5": "85.5", "070": "70", "69.50": "69.5", "0.0": "0",
		"101": "", "-1": "", "100.01": "", "high": "", "1e2": "", "NaN": "", "Inf": "", ".": "", "1.2.3": "", "0x10": "", "+5": "",
	} {
		got, ok := parseImportance([]byte(in))
		if want == "" {
			if ok {
				t.Errorf("importance %q accepted as %v", in, got)
			}
			continue
		}
		if !ok || FormatImportance(got) != want {
			t.Errorf("importance %q = %v %v, want %s", in, got, ok, want)
		}
	}
}

func TestParseRow(t *testing.T) {
	var p Parser
	var row Row
	rec := record(map[dump.Column]string{
		dump.IP: "::ffff:198.51.100.7", dump.PredictedAt: "2018-06-21T02:03:48", dump.PredictedNetblock: "198.51.100.7/24",
		dump.PredictedCategory: "spam", dump.Cluster: "abc", dump.DetectedBy: "a; b |a",
		dump.DetectedIdentifiers: "", dump.DetectedCategories: "Malicious,BOTNET, malicious",
		dump.DetectedAt: "2021-02-09", dump.LastSeenAt: "not a date", dump.Importance: "85.5",
	})
	if err := p.Parse(rec, &row); err != nil {
		t.Fatal(err)
	}
	if row.Addr != netip.MustParseAddr("198.51.100.7") || row.PredictedNetblock.String() != "198.51.100.0/24" {
		t.Errorf("addr %v netblock %v", row.Addr, row.PredictedNetblock)
	}
	if row.Importance != 85.5 || !row.HasImportance {
		t.Errorf("importance %v", row.Importance)
	}
	if row.LastSeenAt != NoTime || fmtTime(row.DetectedAt) != "2021-02-09T00:00:00Z" || row.Date() != row.DetectedAt {
		t.Errorf("dates %d %d", row.LastSeenAt, row.DetectedAt)
	}
	if diff := cmp.Diff([]string{"a", "b"}, strs(row.DetectedBy)); diff != "" {
		t.Error(diff)
	}
	if diff := cmp.Diff([]string{"malicious", "botnet"}, strs(row.DetectedCategories)); diff != "" {
		t.Error(diff)
	}
	if len(row.DetectedIdentifiers) != 0 {
		t.Errorf("identifiers %q", row.DetectedIdentifiers)
	}
	if len(row.Warnings) != 1 || !strings.Contains(row.Warnings[0].Message, "last_seen_at") || row.Warnings[0].Line != 7 {
		t.Errorf("warnings %v", row.Warnings)
	}

	// JSON arrays are taken as given, not split.
	rec = record(map[dump.Column]string{dump.IP: "1.2.3.4", dump.PredictedNetblock: "1.2.3.0/33", dump.Importance: "0"})
	rec.Lists[dump.DetectedIdentifiers] = [][]byte{[]byte(" x,y "), []byte(""), []byte("x,y")}
	if err := p.Parse(rec, &row); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"x,y"}, strs(row.DetectedIdentifiers)); diff != "" {
		t.Error(diff)
	}
	if row.PredictedNetblock.IsValid() || len(row.Warnings) != 1 || row.Importance != 0 || row.Date() != NoTime {
		t.Errorf("netblock %v warnings %v", row.PredictedNetblock, row.Warnings)
	}
}

func TestParseRowInvalid(t *testing.T) {
	var p Parser
	var row Row
	for name, kv := range map[string]map[dump.Column]string{
		"bad ip":             {dump.IP: "999.1.2.3"},
		"leading zero":       {dump.IP: "010.1.2.3"},
		"zone":               {dump.IP: "fe80::1%eth0"},
		"missing ip":         {dump.Importance: "5"},
		"importance > 100":   {dump.IP: "1.2.3.4", dump.Importance: "101"},
		"importance < 0":     {dump.IP: "1.2.3.4", dump.Importance: "-1"},
		"importance is text": {dump.IP: "1.2.3.4", dump.Importance: "high"},
		"importance empty":   {dump.IP: "1.2.3.4", dump.Importance: ""},
		"importance missing": {dump.IP: "1.2.3.4"},
	} {
		var ie *InvalidError
		if err := p.Parse(record(kv), &row); !errors.As(err, &ie) || ie.Line != 7 {
			t.Errorf("%s: got %v, want an InvalidError on line 7", name, err)
		}
	}
}

func strs(bs [][]byte) []string {
	out := []string{}
	for _, b := range bs {
		out = append(out, string(b))
	}
	return out
}

func fmtTime(unix int64) string { return indicator.FormatTime(unix) }

// TestDatesOutsideTheRangeAreDropped: a date before 1970 or more than a
// year after the run is a warning and drops only that attribute.
func TestDatesOutsideTheRangeAreDropped(t *testing.T) {
	p := NewParser(DefaultLimits(time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)))
	var row Row
	for v, kept := range map[string]bool{
		"9999-12-31": false, "2027-12-07": false, "1969-12-31T23:59:59": false, "0001-01-01": false,
		"2027-12-06": true, "1970-01-01": true, "2026-12-05": true,
	} {
		rec := record(map[dump.Column]string{dump.IP: "1.2.3.4", dump.Importance: "50", dump.LastSeenAt: v, dump.DetectedAt: v})
		if err := p.Parse(rec, &row); err != nil {
			t.Fatalf("%s: %v", v, err)
		}
		if got := row.LastSeenAt != NoTime && row.DetectedAt != NoTime; got != kept {
			t.Errorf("%s: kept %v, want %v", v, got, kept)
		}
		if wantWarnings := map[bool]int{true: 0, false: 2}[kept]; len(row.Warnings) != wantWarnings {
			t.Errorf("%s: warnings %v, want %d", v, row.Warnings, wantWarnings)
		}
	}
}
