package export_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"flag"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"forewarn/internal/config"
	"forewarn/internal/export"
	"forewarn/internal/fakeseclytics"
	"forewarn/internal/feed"
	"forewarn/internal/indicator"
	"forewarn/internal/secret"
	"forewarn/internal/store"
	"forewarn/internal/testutil"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

const testToken = "tok-EXPORT-5e1f0c9a77"

// runAt is when the golden store's run happened; exportAt is the export's
// clock. Last Seen At dates in the dump are close to them, so that the
// default age-out (90 days) leaves all but one row Active.
var (
	runAt    = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	exportAt = time.Date(2026, 5, 2, 0, 0, 0, 0, time.UTC)
)

// goldenDump covers what the formats treat differently: consecutive
// addresses (aggregation), shared and nested netblocks, IPv6, several
// categories and detectors, an unknown category, ties in importance, a
// private address (Whitelisted by the default special-range allow-list)
// and an old row (Expired by the default age-out). goldenNoImportance adds
// an indicator without importance.
const goldenDump = goldenHeader +
	"45.33.10.0,2026-04-01T00:00:00,45.33.10.0/24,spam,c-spam-1,uceptect_level2,listed-rbl,spam,2026-04-10T00:00:00,2026-04-20T00:00:00,10\n" +
	"45.33.10.1,2026-04-01T00:00:00,45.33.10.0/24,spam,c-spam-1,uceptect_level2,listed-rbl,spam,2026-04-10T00:00:00,2026-04-21T00:00:00,20\n" +
	"45.33.10.2,2026-04-01T00:00:00,45.33.10.0/24,spam,c-spam-1,\"uceptect_level1,uceptect_level2\",listed-rbl,spam,2026-04-10T00:00:00,2026-04-22T00:00:00,55\n" +
	"45.33.10.3,2026-04-01T00:00:00,45.33.10.0/24,spam,c-spam-1,uceptect_level2,,spam,2026-04-10T00:00:00,2026-04-23T00:00:00,80\n" +
	"45.33.11.7,2026-04-02T00:00:00,45.33.0.0/16,botnet,c-bot-2,\"spamhaus_xbl,abuse_ch_feodo\",\"feodo,emotet\",\"botnet,malware\",2026-04-12T00:00:00,2026-04-25T00:00:00,90\n" +
	"80.82.77.33,,80.82.77.0/24,scanner,c-scan-3,dshield,\"ssh,telnet\",scanner,2026-04-15T00:00:00,2026-04-26T00:00:00,40\n" +
	"185.220.101.1,2025-11-01T00:00:00,185.220.101.0/24,tor,c-tor-5,tor_exits,,tor,2025-11-02T00:00:00,2025-12-01T00:00:00,65\n" +
	"10.1.2.3,2026-04-01T00:00:00,10.1.2.0/24,spam,c-spam-1,uceptect_level2,,spam,2026-04-10T00:00:00,2026-04-28T00:00:00,99\n" +
	"2a01:4f8:1c1c::5,2026-04-04T00:00:00,2a01:4f8:1c1c::/48,phishing,c-phish-6,openphish,,phishing,2026-04-14T00:00:00,2026-04-29T00:00:00,70\n" +
	"2a01:4f8:1c1c::6,2026-04-04T00:00:00,2a01:4f8:1c1c::/48,phishing,c-phish-6,openphish,,\"phishing,spam\",2026-04-14T00:00:00,2026-04-24T00:00:00,70\n"

const goldenHeader = "ip,predicted_at,predicted_netblock,predicted_category,cluster,detected_by,detected_identifiers,detected_categories,detected_at,last_seen_at,importance\n"

// goldenNoImportance is an indicator without an Importance attribute.
// Every row must carry an importance, so it comes from a run whose context
// leaves Importance out (and does not normalize).
const goldenNoImportance = goldenHeader +
	"103.5.6.7,2026-04-03T00:00:00,103.5.6.0/24,weird,c-odd-4,uceptect_level3,,weird,,2026-04-27T00:00:00,30\n"

// ingestGolden ingests goldenDump, then goldenNoImportance, with settings.
func ingestGolden(t testing.TB, st *store.Store, srv *fakeseclytics.Server, url string, settings ...string) {
	t.Helper()
	ingest(t, st, srv, url, goldenDump, runAt, settings...)
	ingest(t, st, srv, url, goldenNoImportance, runAt, append(settings, "normalize=false",
		"context=Predicted At,Predicted Netblock,Predicted Category,Cluster,Detected By,Detected Identifiers,Detected Categories,Detected At,Last Seen At")...)
}

// ingest runs the Seclytics feed once into st from a fake server serving
// body (a CSV dump, or "" for a generated one of rows rows) at now, keeping
// every attribute and every row.
func ingest(t testing.TB, st *store.Store, srv *fakeseclytics.Server, url, body string, now time.Time, settings ...string) {
	t.Helper()
	if body != "" {
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		zw.Write([]byte(body))
		zw.Close()
		srv.SetBody("a", b.Bytes())
	}
	_, err := feed.Run(context.Background(), st, feed.Options{
		Token:       secret.New(testToken),
		BackoffBase: time.Millisecond,
		StageDir:    t.TempDir(),
		Logger:      slog.New(slog.DiscardHandler),
		Now:         func() time.Time { return now },
		Override:    config.Settings(append([]string{"base_url=" + url, "threshold=0", "categories=", "context=all", "normalize=true"}, settings...)...),
	})
	if err != nil {
		t.Fatalf("feed run: %v", err)
	}
}

func goldenStore(t *testing.T) *store.Store {
	t.Helper()
	srv, url := testutil.Seclytics(t, fakeseclytics.Options{Rows: 10, Seed: 1, Token: testToken})
	st := testutil.Store(t)
	ingestGolden(t, st, srv, url)
	return st
}

func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/export -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s differs from the golden file (-want +got); if the change is intended, run go test ./internal/export -update:\n%s", name, diff)
	}
}

func TestGolden(t *testing.T) {
	st := goldenStore(t)
	clock := func() time.Time { return exportAt }
	fifty := 50.0
	for _, tc := range []struct {
		file string
		f    export.Format
		o    export.Options
	}{
		{"all.jsonl", export.JSONL, export.Options{Filter: export.Filter{Statuses: export.AllStatuses}}},
		{"active.jsonl", export.JSONL, export.Options{}},
		{"active.csv", export.CSV, export.Options{}},
		{"spam-min50.csv", export.CSV, export.Options{Filter: export.Filter{Categories: []string{"SPAM"}, MinImportance: &fifty}}},
		{"active.stix.json", export.STIX, export.Options{}},
		{"all.stix.json", export.STIX, export.Options{Filter: export.Filter{Statuses: export.AllStatuses}}},
		{"active.edl.txt", export.EDL, export.Options{}},
		// Whitelisted never reaches a blocklist, even when asked for.
		{"all-statuses.edl.txt", export.EDL, export.Options{Filter: export.Filter{Statuses: export.AllStatuses}}},
		{"aggregate.edl.txt", export.EDL, export.Options{Aggregate: true}},
		{"netblocks.edl.txt", export.EDL, export.Options{Netblocks: true}},
		{"netblocks-aggregate.edl.txt", export.EDL, export.Options{Netblocks: true, Aggregate: true}},
		{"max3.edl.txt", export.EDL, export.Options{Filter: export.Filter{Max: 3}}},
		{"reputation.list", export.SuricataIPRep, export.Options{}},
		{"intel.txt", export.ZeekIntel, export.Options{}},
		{"crowdsec.json", export.CrowdSec, export.Options{}},
		{"ecs.ndjson", export.ECS, export.Options{}},
		{"ecs-clear.ndjson", export.ECS, export.Options{TLP: "CLEAR", Filter: export.Filter{Max: 2}}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			var b bytes.Buffer
			tc.o.Now = clock
			if err := export.Write(context.Background(), &b, st, tc.f, tc.o); err != nil {
				t.Fatal(err)
			}
			checkGolden(t, tc.file, b.Bytes())
		})
	}
	t.Run("categories.txt", func(t *testing.T) {
		var b bytes.Buffer
		if err := export.WriteSuricataCategories(&b); err != nil {
			t.Fatal(err)
		}
		checkGolden(t, "categories.txt", b.Bytes())
	})
}

// TestBlocklistsSkipPassedExpiry: an Active indicator whose expiry has
// passed (the expiry job has not run yet) is not blocked any more.
func TestBlocklistsSkipPassedExpiry(t *testing.T) {
	st := goldenStore(t)
	count := func(f export.Format, at time.Time) int {
		var b bytes.Buffer
		if err := export.Write(context.Background(), &b, st, f, export.Options{Now: func() time.Time { return at }}); err != nil {
			t.Fatal(err)
		}
		return strings.Count(b.String(), "\n")
	}
	now, later := count(export.EDL, exportAt), count(export.EDL, exportAt.AddDate(1, 0, 0))
	if now == 0 || later != 0 {
		t.Errorf("edl lines: %d now, %d a year later; want some now and none once every expiry passed", now, later)
	}
	if n := count(export.JSONL, exportAt.AddDate(1, 0, 0)); n != now {
		t.Errorf("jsonl is not a blocklist and keeps its %d Active indicators whatever the clock, got %d", now, n)
	}
}

// TestMaxKeepsTheMostImportant checks the budget's order: importance, then
// the address, the higher first (as an output profile ranks), written in
// address order.
func TestMaxKeepsTheMostImportant(t *testing.T) {
	st := goldenStore(t)
	for _, tc := range []struct {
		max  int
		want string
	}{
		{1, "45.33.11.7\n"},
		{2, "45.33.10.3\n45.33.11.7\n"}, // written in address order
		// 2a01:4f8:1c1c::5 and ::6 tie at 70: the higher address first.
		{3, "45.33.10.3\n45.33.11.7\n2a01:4f8:1c1c::6\n"},
		{4, "45.33.10.3\n45.33.11.7\n2a01:4f8:1c1c::5\n2a01:4f8:1c1c::6\n"},
	} {
		var b bytes.Buffer
		o := export.Options{Filter: export.Filter{Max: tc.max}, Now: func() time.Time { return exportAt }}
		if err := export.Write(context.Background(), &b, st, export.EDL, o); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tc.want, b.String()); diff != "" {
			t.Errorf("max %d (-want +got):\n%s", tc.max, diff)
		}
	}
}

func TestParseFormatAndOptionErrors(t *testing.T) {
	for _, f := range export.Formats {
		if got, err := export.ParseFormat(strings.ToUpper(string(f))); err != nil || got != f {
			t.Errorf("ParseFormat(%q) = %q, %v", f, got, err)
		}
		if export.ContentType(f) == "application/octet-stream" {
			t.Errorf("no content type for %s", f)
		}
	}
	_, err := export.ParseFormat("pdf")
	if !errors.Is(err, export.ErrUnknownFormat) || !strings.Contains(err.Error(), "suricata-iprep") {
		t.Errorf("ParseFormat(pdf) = %v; want ErrUnknownFormat listing the formats", err)
	}
	for name, o := range map[string]export.Options{
		"status":    {Filter: export.Filter{Statuses: []indicator.Status{"Gone"}}},
		"max":       {Filter: export.Filter{Max: -1}},
		"aggregate": {Aggregate: true},
		"tlp":       {TLP: "amber"},
		"misp":      {MISPAttribute: "ip-src"},
	} {
		err := export.Write(context.Background(), &bytes.Buffer{}, emptySource{}, export.CSV, o)
		if !errors.Is(err, export.ErrBadFilter) || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: %v; want ErrBadFilter naming %s", name, err, name)
		}
	}
}

type emptySource struct{}

func (emptySource) EachIndicator(context.Context, func(*indicator.Indicator) error) error { return nil }

func TestSuricataScore(t *testing.T) {
	for imp, want := range map[float64]int{-1: 1, 0: 1, 10: 14, 50: 64, 99.7: 127, 100: 127, 250: 127} {
		if got := export.SuricataScore(imp); got != want {
			t.Errorf("SuricataScore(%v) = %d, want %d", imp, got, want)
		}
	}
}

// TestNetblocksWithoutTheAttribute: the store knows every indicator's
// predicted netblock even when Predicted Netblock is not kept as context,
// and --netblocks uses it.
func TestNetblocksWithoutTheAttribute(t *testing.T) {
	srv, url := testutil.Seclytics(t, fakeseclytics.Options{Rows: 10, Seed: 1, Token: testToken})
	st := testutil.Store(t)
	ingestGolden(t, st, srv, url, "context=Importance,Detected Categories,Last Seen At")
	var b bytes.Buffer
	o := export.Options{Netblocks: true, Now: func() time.Time { return exportAt }}
	if err := export.Write(context.Background(), &b, st, export.EDL, o); err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(filepath.Join("testdata", "golden", "netblocks.edl.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), b.String()); diff != "" {
		t.Errorf("netblocks without the attribute (-want +got):\n%s", diff)
	}
}
