package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"forewarn/internal/testutil/pgtest"
)

// matchedHit is the JSON of one hit, as match --format json prints it.
type matchedHit struct {
	Time        *string  `json:"time"`
	Line        int64    `json:"line"`
	Address     string   `json:"address"`
	Field       string   `json:"field"`
	Verdict     string   `json:"verdict"`
	Feeds       []string `json:"feeds"`
	Importance  *float64 `json:"importance"`
	PredictedAt *string  `json:"predicted_at"`
	DaysAfter   *int     `json:"days_after_prediction"`
}

type matchSummary struct {
	Summary struct {
		Lines, Addresses, Hits, Whitelisted, Unknown int64
		ByVerdict                                    map[string]int64 `json:"by_verdict"`
		AfterPrediction                              int64            `json:"after_prediction"`
		BeforePrediction                             int64            `json:"before_prediction"`
		Undated                                      int64
		HitAddresses                                 int64 `json:"hit_addresses"`
		Top                                          []struct {
			Address string
			Hits    int64
		}
		BeforeConfirmation int64 `json:"before_confirmation"`
	}
}

func parseMatchJSON(t *testing.T, out string) ([]matchedHit, matchSummary) {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var hits []matchedHit
	for _, l := range lines[:len(lines)-1] {
		var h matchedHit
		if err := json.Unmarshal([]byte(l), &h); err != nil {
			t.Fatalf("%v: %s", err, l)
		}
		hits = append(hits, h)
	}
	var s matchSummary
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &s); err != nil {
		t.Fatalf("summary: %v: %s", err, lines[len(lines)-1])
	}
	return hits, s
}

// A generated conn.log whose hits the generator knows: match finds every
// one of them, on its line and field, and reports nothing else. 10,000
// lines (1.5 MB) are several of the scanner's read-ahead chunks (256 KiB)
// and more than a match batch (8,192 lines; 512 addresses to resolve).
func TestMatchFindsEveryGeneratedHit(t *testing.T) {
	const lines = 10_000
	base := server(t)
	dir := t.TempDir()
	db := pgtest.Path(t, dir)
	env := map[string]string{"SECLYTICS_ACCESS_TOKEN": token, "FOREWARN_DB": db}
	if r := run(t, env, "run", "seclytics", "--base-url", base, "--threshold", "0", "--categories=", "--context", "all"); r.code != 0 {
		t.Fatalf("run: %+v", r)
	}
	log := filepath.Join(dir, "conn.log.gz")
	r := run(t, env, "gen", "conn-log", "--lines", fmt.Sprint(lines), "--hit-rate", "0.03", "--seed", "7", "-o", log)
	if r.code != 0 || !strings.Contains(r.err, fmt.Sprintf("%d lines", lines)) {
		t.Fatalf("gen conn-log: %+v", r)
	}
	want := readHitsFile(t, strings.TrimSuffix(log, ".gz")+".hits")
	if len(want) < lines*2/100 {
		t.Fatalf("the generator wrote %d hits for 3%% of %d lines", len(want), lines)
	}

	r = run(t, env, "match", "--format", "json", log)
	if r.code != 0 {
		t.Fatalf("match: %+v", r)
	}
	hits, sum := parseMatchJSON(t, r.out)
	var got []string
	for _, h := range hits {
		got = append(got, fmt.Sprintf("%d\t%s\t%s", h.Line, h.Field, h.Address))
		if h.Verdict != "listed" || len(h.Feeds) != 1 || h.Feeds[0] != "Seclytics" || h.Time == nil ||
			h.Importance == nil || h.PredictedAt == nil || h.DaysAfter == nil || *h.DaysAfter < 0 {
			t.Fatalf("hit without its verdict, feeds, importance, prediction or lead: %+v", h)
		}
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("hits (-generated +matched):\n%s", d)
	}
	s := sum.Summary
	// Two addresses a line, the internal ones allow-listed as
	// special-purpose (10.0.0.0/8).
	if s.Lines != lines+9 || s.Addresses != 2*lines || s.Hits != int64(len(want)) || s.ByVerdict["listed"] != s.Hits ||
		s.Whitelisted != lines || s.Unknown != lines-s.Hits || s.AfterPrediction != s.Hits || s.Undated != 0 ||
		s.BeforeConfirmation != s.Hits || len(s.Top) == 0 || s.Top[0].Hits < s.Top[len(s.Top)-1].Hits {
		t.Fatalf("summary: %+v", s)
	}

	// The same log through the table: a header, one row per hit, then
	// the summary.
	r = run(t, env, "match", log)
	if r.code != 0 || strings.Count(r.out, "\n2026-11-") != len(want) || !strings.HasPrefix(r.out, "TIME ") ||
		!strings.Contains(r.out, fmt.Sprintf("hits %d on %d addresses", s.Hits, s.HitAddresses)) ||
		!strings.Contains(r.out, fmt.Sprintf("before any list feed confirmed it: %d\n", s.Hits)) {
		t.Fatalf("match table: %.2000s", r.out)
	}
}

func readHitsFile(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out
}

// Netblock hits, allow-listed and unknown addresses, exit codes and the
// refusals, on a text log and on standard input.
func TestMatchVerdictsAndRefusals(t *testing.T) {
	base := server(t)
	dir := t.TempDir()
	db := pgtest.Path(t, dir)
	env := map[string]string{"SECLYTICS_ACCESS_TOKEN": token, "FOREWARN_DB": db}
	if r := run(t, env, "run", "seclytics", "--base-url", base, "--threshold", "0", "--categories="); r.code != 0 {
		t.Fatalf("run: %+v", r)
	}
	listed, inBlock := listedAndNetblockAddr(t, env)
	if r := run(t, env, "allowlist", "add", listed.String()+"/32", "--comment", "partner"); r.code != 0 {
		t.Fatalf("allowlist: %+v", r)
	}
	text := filepath.Join(dir, "notes.txt")
	os.WriteFile(text, []byte(fmt.Sprintf("saw %s and %s from 10.1.2.3\nthen 198.51.100.7 and %s again\n", inBlock, listed, inBlock)), 0o600)
	r := run(t, env, "match", "--format", "json", text)
	hits, sum := parseMatchJSON(t, r.out)
	if r.code != 0 || len(hits) != 2 || hits[0].Verdict != "in-predicted-netblock" || hits[0].Line != 1 || hits[1].Line != 2 ||
		hits[0].Address != inBlock.String() || hits[0].DaysAfter != nil || hits[0].Time != nil {
		t.Fatalf("netblock hits: %+v %+v", hits, r)
	}
	// The allow-listed indicator and 10.1.2.3 are whitelisted, the
	// documentation address too; nothing is unknown.
	if s := sum.Summary; s.Hits != 2 || s.Whitelisted != 3 || s.Unknown != 0 || s.Undated != 2 || s.HitAddresses != 1 {
		t.Fatalf("summary: %+v", s)
	}

	// Nothing known: exit 1, the summary still printed.
	os.WriteFile(text, []byte("nothing here but 10.9.9.9\n"), 0o600)
	if r = run(t, env, "match", text); r.code != 1 || !strings.Contains(r.out, "hits 0 on 0 addresses") {
		t.Fatalf("no hits: %+v", r)
	}
	// Standard input, when no file is named.
	var out, errb strings.Builder
	e := &envT{stdin: strings.NewReader(inBlock.String() + "\n"), stdout: &out, stderr: &errb, getenv: func(k string) string { return map[string]string{"FOREWARN_DB": db}[k] }}
	if err := cmdMatch(context.Background(), e, nil); err != nil || !strings.Contains(out.String(), "in-predicted-netblock") {
		t.Fatalf("stdin: %v %s", err, out.String())
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"match", "--input", "syslog", text}, "zeek, eve, combined, csv or text"},
		{[]string{"match", "--format", "xml", text}, "use table or json"},
		{[]string{"match", "--column", "ip", text}, `no column "ip"`},
		{[]string{"match", "--input", "zeek", "--column", "ip", text}, "applies to --input csv only"},
		{[]string{"match", filepath.Join(dir, "missing.log")}, "no such file"},
	} {
		if r := run(t, env, tc.args...); r.code == 0 || !strings.Contains(r.err, tc.want) {
			t.Errorf("%v: %+v, want an error with %q", tc.args, r, tc.want)
		}
	}
}

type envT = env

// listedAndNetblockAddr returns a listed address and an unlisted one in
// its predicted netblock.
func listedAndNetblockAddr(t *testing.T, env map[string]string) (netip.Addr, netip.Addr) {
	t.Helper()
	r := run(t, env, "export", "--format", "jsonl")
	for _, l := range strings.Split(strings.TrimSpace(r.out), "\n") {
		var ind struct{ Value string }
		json.Unmarshal([]byte(l), &ind)
		lk := run(t, env, "lookup", "--json", ind.Value)
		var res struct{ Netblocks []struct{ Netblock string } }
		json.Unmarshal([]byte(lk.out), &res)
		if len(res.Netblocks) == 0 {
			continue
		}
		nb := netip.MustParsePrefix(res.Netblocks[0].Netblock)
		var cands []string
		for a := nb.Addr(); nb.Contains(a) && len(cands) < 256; a = a.Next() {
			cands = append(cands, a.String())
		}
		lk = run(t, env, append([]string{"lookup", "--json"}, cands...)...)
		var found []string
		for _, l := range strings.Split(strings.TrimSpace(lk.out), "\n") {
			var x struct{ IP, Verdict string }
			json.Unmarshal([]byte(l), &x)
			if x.Verdict == "in-predicted-netblock" {
				found = append(found, x.IP)
			}
		}
		if len(found) > 0 {
			sort.Strings(found)
			return netip.MustParseAddr(ind.Value), netip.MustParseAddr(found[0])
		}
	}
	t.Fatal("no listed indicator with an unlisted address in its netblock")
	return netip.Addr{}, netip.Addr{}
}

// match --record stores a sighting per listed indicator hit (count, first
// and last from the log's times) in one go, and lookup shows it.
func TestMatchRecordsSightings(t *testing.T) {
	base := server(t)
	dir := t.TempDir()
	db := pgtest.Path(t, dir)
	env := map[string]string{"SECLYTICS_ACCESS_TOKEN": token, "FOREWARN_DB": db}
	if r := run(t, env, "run", "seclytics", "--base-url", base, "--threshold", "0", "--categories="); r.code != 0 {
		t.Fatalf("run: %+v", r)
	}
	listed, inBlock := listedAndNetblockAddr(t, env)
	log := filepath.Join(dir, "eve.json")
	line := `{"timestamp":"%s","event_type":"flow","src_ip":"10.0.0.5","dest_ip":"%s"}` + "\n"
	os.WriteFile(log, []byte(fmt.Sprintf(line, "2026-11-02T10:00:00.000000+0000", listed)+
		fmt.Sprintf(line, "2026-11-01T09:00:00.000000+0100", listed)+
		fmt.Sprintf(line, "2026-11-03T10:00:00.000000+0000", inBlock)), 0o600)
	r := run(t, env, "match", "--record", log)
	if r.code != 0 || !strings.Contains(r.out, "recorded a sighting of 1 indicators") {
		t.Fatalf("match --record: %+v", r)
	}
	r = run(t, env, "lookup", "--json", listed.String())
	var lk struct {
		Indicator struct {
			Sightings *struct {
				Count     int64
				FirstSeen string `json:"first_seen"`
				LastSeen  string `json:"last_seen"`
			} `json:"sightings"`
		}
	}
	json.Unmarshal([]byte(r.out), &lk)
	sg := lk.Indicator.Sightings
	if sg == nil || sg.Count != 2 || sg.FirstSeen != "2026-11-01T08:00:00Z" || sg.LastSeen != "2026-11-02T10:00:00Z" {
		t.Fatalf("lookup --json after match --record: %s", r.out)
	}
	if r = run(t, env, "lookup", listed.String()); !strings.Contains(r.out, "sighted in your logs 2 times, first 2026-11-01T08:00:00Z") {
		t.Fatalf("lookup: %s", r.out)
	}
	// Without --record nothing changes.
	run(t, env, "match", log)
	if r = run(t, env, "lookup", "--json", listed.String()); !strings.Contains(r.out, `"count":2`) {
		t.Fatalf("match without --record recorded: %s", r.out)
	}
}
