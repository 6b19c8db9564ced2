package cli

import (
	"context"
	"encoding/json"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"forewarn/internal/indicator"
	"forewarn/internal/merge"
	"forewarn/internal/store"
	"forewarn/internal/testutil/pgtest"
)

type datedList struct {
	e []store.ListEntry
	i int
}

func (l *datedList) Next() (store.ListEntry, error) {
	if l.i == len(l.e) {
		return store.ListEntry{}, io.EOF
	}
	l.i++
	return l.e[l.i-1], nil
}

// leadTimeStore holds three botnet predictions made at t0: 45.9.148.1,
// listed by "drop" 10 days later; 45.9.148.2, listed by "drop" 2 days
// before; 45.9.148.3, never listed.
func leadTimeStore(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	db := pgtest.Path(t, t.TempDir())
	st, err := store.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	t0 := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	tx, err := st.BeginIngest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var rows []*merge.Stored
	for _, a := range []string{"45.9.148.1", "45.9.148.2", "45.9.148.3"} {
		r := &merge.Stored{Record: merge.Record{Addr: netip.MustParseAddr(a), PredictedAt: t0.Unix(), PredictedCategory: "botnet"},
			Status: indicator.StatusActive, CreatedAt: t0.Unix(), UpdatedAt: t0.Unix(), ExpiresAt: t0.Add(time.Hour * 24 * 365).Unix()}
		r.Has = r.Has.With(merge.PredictedAt).With(merge.PredictedCategory)
		if a == "45.9.148.3" { // its neighbours .1 and .2 confirm its netblock
			r.LookupNetblock = netip.MustParsePrefix("45.9.148.0/24")
		}
		rows = append(rows, r)
	}
	if err := tx.Write(ctx, rows); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	host := func(a string) netip.Prefix { return netip.PrefixFrom(netip.MustParseAddr(a), 32) }
	if _, err := st.IngestList(ctx, store.ListRun{Feed: "drop", Source: "Src drop", Mode: store.ModeCumulative, Confidence: 50},
		&datedList{e: []store.ListEntry{{Prefix: host("45.9.148.1"), FirstSeen: t0.Add(10 * 24 * time.Hour)},
			{Prefix: host("45.9.148.2"), FirstSeen: t0.Add(-2 * 24 * time.Hour)}}}); err != nil {
		t.Fatal(err)
	}
	return db
}

// match counts the hits after the prediction and before a list feed
// confirmed the address: the three predictions of leadTimeStore, seen in
// an access log on dates around their prediction and confirmation.
func TestMatchCountsHitsBeforeConfirmation(t *testing.T) {
	env := map[string]string{"FOREWARN_DB": leadTimeStore(t)}
	log := filepath.Join(t.TempDir(), "access.log")
	line := func(ip, at string) string {
		return ip + ` - - [` + at + ` +0000] "GET / HTTP/1.1" 200 12 "-" "curl/8.0"` + "\n"
	}
	body := line("45.9.148.1", "06/Jun/2026:00:00:00") + // after the prediction, before drop listed it (June 11): counts
		line("45.9.148.1", "16/Jun/2026:00:00:00") + // after the confirmation
		line("45.9.148.2", "02/Jun/2026:00:00:00") + // after the prediction, but drop listed it May 30
		line("45.9.148.3", "09/Sep/2026:00:00:00") + // never confirmed: counts
		line("45.9.148.3", "31/May/2026:00:00:00") // before the prediction
	if err := os.WriteFile(log, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	r := run(t, env, "match", "--input", "combined", "--format", "json", log)
	if r.code != 0 {
		t.Fatalf("match: %+v", r)
	}
	_, sum := parseMatchJSON(t, r.out)
	if s := sum.Summary; s.Hits != 5 || s.AfterPrediction != 4 || s.BeforePrediction != 1 || s.BeforeConfirmation != 2 {
		t.Errorf("summary: %+v, want 5 hits, 4 after prediction, 1 before, 2 before confirmation", s)
	}
	r = run(t, env, "match", "--input", "combined", log)
	if r.code != 0 || !strings.Contains(r.out, "before any list feed confirmed it: 2\n") {
		t.Errorf("match table: %+v", r)
	}
}

// report lead-time in its three formats, and its refusals.
func TestReportLeadTime(t *testing.T) {
	env := map[string]string{"FOREWARN_DB": leadTimeStore(t)}
	r := run(t, env, "report", "lead-time", "--format", "json")
	var rep struct {
		Predicted, Confirmed int64
		Before               int64            `json:"confirmed_before_prediction"`
		Within30             int64            `json:"confirmed_within_30_days"`
		Median               *int64           `json:"median_days"`
		P90                  *int64           `json:"p90_days"`
		ByCategory           []map[string]any `json:"by_category"`
		ByFeed               []map[string]any `json:"by_feed"`
		Netblock             map[string]any   `json:"netblock"`
	}
	if err := json.Unmarshal([]byte(r.out), &rep); err != nil || r.code != 0 {
		t.Fatalf("json: %v %+v", err, r)
	}
	// Lead days -2 and 10: the median is the first (rank 1 of 2), p90 the second.
	if rep.Predicted != 3 || rep.Confirmed != 2 || rep.Before != 1 || rep.Within30 != 1 || rep.Median == nil || *rep.Median != -2 ||
		*rep.P90 != 10 || len(rep.ByCategory) != 1 || rep.ByCategory[0]["name"] != "botnet" || len(rep.ByFeed) != 1 ||
		rep.ByFeed[0]["name"] != "drop" || rep.ByFeed[0]["predicted"] != float64(3) ||
		// 45.9.148.3's netblock, confirmed by .2 two days before the prediction.
		rep.Netblock["predicted"] != float64(1) || rep.Netblock["confirmed"] != float64(1) ||
		rep.Netblock["confirmed_before_prediction"] != float64(1) || rep.Netblock["median_days"] != float64(-2) {
		t.Errorf("json: %s", r.out)
	}
	r = run(t, env, "report", "lead-time")
	if r.code != 0 || !strings.Contains(r.out, "PREDICTED") ||
		!regexpLine(r.out, `^all +3 +2 \(67%\) +1 +1 +1 +1 \(50%\) +-2 +10 *$`) || !regexpLine(r.out, `^feed drop +3 `) ||
		!regexpLine(r.out, `^netblock +1 +1 \(100%\) +0 +0 +0 +1 \(100%\) +-2 +-2 *$`) {
		t.Errorf("table: %+v", r)
	}
	r = run(t, env, "report", "lead-time", "--format", "csv", "--since", "2026-06-02")
	lines := strings.Split(strings.TrimSpace(r.out), "\n")
	if r.code != 0 || len(lines) != 3 || !strings.HasPrefix(lines[0], "group,name,predicted,confirmed,") || lines[1] != "all,,0,0,0,0,0,0,0.0000,," ||
		lines[2] != "netblock,,0,0,0,0,0,0,0.0000,," {
		t.Errorf("csv --since after every prediction: %+v", r)
	}
	for _, bad := range [][]string{{"--feed", "nosuch"}, {"--since", "yesterday"}, {"--format", "xml"}} {
		r = run(t, env, append([]string{"report", "lead-time"}, bad...)...)
		if r.code != 2 || !strings.Contains(r.err, bad[1]) {
			t.Errorf("%v: want exit 2 naming %q, got %+v", bad, bad[1], r)
		}
	}
}

// regexpLine reports whether a line of out matches the pattern.
func regexpLine(out, pattern string) bool {
	return regexp.MustCompile(`(?m)` + pattern).MatchString(out)
}
