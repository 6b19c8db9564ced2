package feed

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"forewarn/internal/activity"
	"forewarn/internal/config"
	"forewarn/internal/dumpgen"
	"forewarn/internal/export"
	"forewarn/internal/fakeseclytics"
	"forewarn/internal/indicator"
	"forewarn/internal/merge"
	"forewarn/internal/secret"
	"forewarn/internal/store"
	"forewarn/internal/testutil"
)

const testToken = "tok-SECRET-7f3a9c2e51"

// harness is a real store file and a real Seclytics-compatible server on
// loopback.
type harness struct {
	t    *testing.T
	st   *store.Store
	srv  *fakeseclytics.Server
	url  string
	logs *testutil.Buffer
	// wrap, if set, wraps the store the runs use.
	wrap func(*store.Store) Store
}

func newHarness(t *testing.T, rows int) *harness {
	t.Helper()
	srv, url := testutil.Seclytics(t, fakeseclytics.Options{Rows: rows, Seed: 7, Token: testToken})
	return &harness{t: t, st: testutil.Store(t), srv: srv, url: url, logs: &testutil.Buffer{}}
}

// run runs the feed with settings given as key=value pairs.
func (h *harness) run(o Options, settings ...string) (*activity.Run, error) {
	h.t.Helper()
	o.Token = secret.New(testToken)
	o.BackoffBase = time.Millisecond
	o.StageDir = h.t.TempDir()
	o.Logger = slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	o.Override = func(c *config.Seclytics) error {
		if err := c.Set("base_url", h.url); err != nil {
			return err
		}
		return config.Settings(settings...)(c)
	}
	var st Store = h.st
	if h.wrap != nil {
		st = h.wrap(h.st)
	}
	r, err := Run(context.Background(), st, o)
	h.checkCount()
	return r, err
}

// checkCount: whatever a run did (commit, roll back, fail), the indicator
// count pages read from store_counts equals the rows the store holds.
func (h *harness) checkCount() {
	h.t.Helper()
	ctx := context.Background()
	v, err := h.st.DataVersion(ctx)
	if err != nil {
		h.t.Fatal(err)
	}
	stats, err := h.st.Stats(ctx)
	if err != nil {
		h.t.Fatal(err)
	}
	if v.Count != stats.Indicators {
		h.t.Fatalf("after the run the store counts %d indicators and holds %d", v.Count, stats.Indicators)
	}
}

func (h *harness) mustRun(o Options, settings ...string) *activity.Run {
	h.t.Helper()
	r, err := h.run(o, settings...)
	if err != nil {
		h.t.Fatalf("run failed: %v", err)
	}
	return r
}

// body serves a hand-written CSV dump, gzip-compressed.
func (h *harness) body(csv string) {
	var b bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&b, gzip.BestSpeed) // big hostile dumps are built in tests
	zw.Write([]byte(csv))
	zw.Close()
	h.srv.SetBody("a", b.Bytes())
}

// snapshot is the store's whole content as the JSONL export shows it.
func (h *harness) snapshot() string {
	var b bytes.Buffer
	if err := export.Write(context.Background(), &b, h.st, export.JSONL, export.Options{Filter: export.Filter{Statuses: export.AllStatuses}}); err != nil {
		h.t.Fatal(err)
	}
	return b.String()
}

func (h *harness) lookup(ip string) indicator.Indicator {
	h.t.Helper()
	ind, err := h.st.Lookup(context.Background(), netip.MustParseAddr(ip))
	if err != nil {
		h.t.Fatalf("lookup %s: %v", ip, err)
	}
	return ind
}

// nvalues counts ind's attribute values, a list's items one by one, as the
// API lists them.
func nvalues(ind indicator.Indicator) int {
	n := 0
	for _, a := range ind.Attributes {
		a.Value.Texts(func(string) { n++ })
	}
	return n
}

func attrs(ind indicator.Indicator) map[string][]string {
	m := map[string][]string{}
	for _, a := range ind.Attributes {
		a.Value.Texts(func(v string) { m[a.Name] = append(m[a.Name], v) })
	}
	return m
}

const header = "ip,predicted_at,predicted_netblock,predicted_category,cluster,detected_by,detected_identifiers,detected_categories,detected_at,last_seen_at,importance\n"

func line(ip, cats, lastSeen, importance string) string {
	return fmt.Sprintf("%s,2018-06-21T02:03:48,%s/24,spam,c-%s,uceptect_level2,id1,%q,2021-02-09T00:00:00,%s,%s\n",
		ip, netblock(ip), ip, cats, lastSeen, importance)
}

func netblock(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil { // rows with invalid addresses still need a netblock
		return "192.0.2.0"
	}
	p, _ := a.Prefix(24)
	return p.Addr().String()
}

func TestDefaultRunIngestsTheGuidesAttributes(t *testing.T) {
	h := newHarness(t, 0)
	h.body(header +
		"102.140.192.0,2018-06-21T02:03:48,102.140.192.0/24,spam,3caa3b5744f91251e7ec2b45ef2d6d892786935b,uceptect_level2,,\"malicious,Spam\",2021-02-09T00:00:00,2022-11-27T00:00:00,85\n" +
		"102.140.192.1,2018-06-21T02:03:48,102.140.192.0/24,spam,3caa3b5744f91251e7ec2b45ef2d6d892786935b,uceptect_level2,,spam,2021-02-09T00:00:00,2022-11-27T00:00:00,95\n" +
		"102.140.192.2,2018-06-21T02:03:48,102.140.192.0/24,spam,3caa3b5744f91251e7ec2b45ef2d6d892786935b,uceptect_level2,,botnet,2021-02-09T00:00:00,2022-11-27T00:00:00,10\n")
	r := h.mustRun(Options{}, "age_out=never") // Last Seen At is years old
	if r.Status != activity.StatusSucceeded || r.RowsRead != 3 || r.RowsKept != 1 ||
		r.Dropped.CategoryNotListed != 1 || r.Dropped.BelowThreshold != 1 || r.IndicatorsCreated != 1 {
		t.Fatalf("run: %+v", r)
	}
	ind := h.lookup("102.140.192.0")
	want := map[string][]string{
		"Importance":          {"85"},
		"Detected Categories": {"malicious", "spam"},
		"Last Seen At":        {"2022-11-27T00:00:00Z"},
		"Cluster":             {"3caa3b5744f91251e7ec2b45ef2d6d892786935b"},
	}
	if got := attrs(ind); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("attributes:\n got %v\nwant %v", got, want)
	}
	if ind.Type != "IP Address" || ind.Status != indicator.StatusActive || ind.Sources[0] != "Seclytics" {
		t.Errorf("indicator: %+v", ind)
	}
	if r.AttributesCreated != 5 {
		t.Errorf("attributes created %d, want 5", r.AttributesCreated)
	}
}

func TestThresholdAndNormalizeBands(t *testing.T) {
	scores := []string{"0", "39", "40", "69", "69.5", "70", "85.5", "100"}
	var csv strings.Builder
	csv.WriteString(header)
	for i, s := range scores {
		csv.WriteString(line(fmt.Sprintf("198.51.100.%d", i+1), "malicious", "2022-11-27", s))
	}
	for _, tc := range []struct {
		threshold string
		kept      int64
	}{{"0", 8}, {"70", 3}, {"100", 1}, {"69.5", 4}} {
		t.Run("threshold "+tc.threshold, func(t *testing.T) {
			h := newHarness(t, 0)
			h.body(csv.String())
			r := h.mustRun(Options{}, "threshold="+tc.threshold, "normalize=true")
			if r.RowsKept != tc.kept || r.Dropped.BelowThreshold != 8-tc.kept {
				t.Fatalf("kept %d dropped %d, want %d", r.RowsKept, r.Dropped.BelowThreshold, tc.kept)
			}
		})
	}
	h := newHarness(t, 0)
	h.body(csv.String())
	h.mustRun(Options{}, "threshold=0", "normalize=true", "context=Last Seen At")
	want := map[string]string{"0": "Low", "39": "Low", "40": "Medium", "69": "Medium", "69.5": "Medium", "70": "High", "85.5": "High", "100": "High"}
	for i, s := range scores {
		a := attrs(h.lookup(fmt.Sprintf("198.51.100.%d", i+1)))
		if got := a["Normalized Importance"]; len(got) != 1 || got[0] != want[s] {
			t.Errorf("score %s: Normalized Importance %v, want %s", s, got, want[s])
		}
		if _, ok := a["Importance"]; ok {
			t.Errorf("score %s: Importance written although not selected", s)
		}
	}
}

func TestCategoryWhitelist(t *testing.T) {
	csv := header + line("198.51.100.1", "Malicious", "2022-11-27", "80") + line("198.51.100.2", "spam,BOTNET", "2022-11-27", "80") +
		line("198.51.100.3", "spam", "2022-11-27", "80") + line("198.51.100.4", "", "2022-11-27", "80")
	for _, tc := range []struct {
		categories string
		kept       int64
	}{{"", 4}, {"MALICIOUS,Botnet", 2}, {"spam", 2}, {"tor", 0}} {
		t.Run(tc.categories, func(t *testing.T) {
			h := newHarness(t, 0)
			h.body(csv)
			r := h.mustRun(Options{}, "categories="+tc.categories)
			if r.RowsKept != tc.kept || r.Dropped.CategoryNotListed != 4-tc.kept {
				t.Errorf("kept %d, want %d (%+v)", r.RowsKept, tc.kept, r.Dropped)
			}
		})
	}
}

func TestContextSelection(t *testing.T) {
	csv := header + "198.51.100.7,2018-06-21T02:03:48,198.51.100.7/24,spam,clu,\"a;b\",\"x|y\",malicious,2021-02-09,2022-11-27T00:00:00,85.5\n"
	for _, tc := range []struct {
		context string
		want    []string
	}{
		{"all", []string{"Cluster", "Detected At", "Detected By", "Detected Categories", "Detected Identifiers", "Importance", "Last Seen At", "Predicted At", "Predicted Category", "Predicted Netblock"}},
		{"Importance", []string{"Importance"}},
		{"predicted netblock,detected by", []string{"Detected By", "Predicted Netblock"}},
		{"", nil},
	} {
		t.Run(tc.context, func(t *testing.T) {
			h := newHarness(t, 0)
			h.body(csv)
			h.mustRun(Options{}, "context="+tc.context)
			a := attrs(h.lookup("198.51.100.7"))
			var names []string
			for n := range a {
				names = append(names, n)
			}
			if fmt.Sprint(sorted(names)) != fmt.Sprint(sorted(tc.want)) {
				t.Errorf("attributes %v, want %v", sorted(names), tc.want)
			}
			if tc.context == "all" {
				if a["Predicted Netblock"][0] != "198.51.100.0/24" || a["Importance"][0] != "85.5" || a["Detected At"][0] != "2021-02-09T00:00:00Z" ||
					fmt.Sprint(a["Detected By"]) != "[a b]" || fmt.Sprint(a["Detected Identifiers"]) != "[x y]" {
					t.Errorf("values: %v", a)
				}
			}
		})
	}
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

func TestMergeAcrossRuns(t *testing.T) {
	h := newHarness(t, 0)
	h.srv.SetETag(false)
	h.srv.SetLastModified(false)
	first := header + line("198.51.100.1", "malicious", "2022-11-27", "80") + line("198.51.100.2", "malicious", "2022-11-27", "80")
	h.body(first)
	r1 := h.mustRun(Options{})
	if r1.IndicatorsCreated != 2 {
		t.Fatalf("first run: %+v", r1)
	}
	before := h.lookup("198.51.100.1")

	// The same dump again: unchanged (by checksum, since the server sends
	// no validators), and nothing is added.
	r2 := h.mustRun(Options{})
	if r2.Status != activity.StatusUnchanged {
		t.Fatalf("same body: status %s", r2.Status)
	}
	// Re-ingested under different parameters, the same values add nothing.
	r3 := h.mustRun(Options{}, "threshold=75")
	if r3.Status != activity.StatusSucceeded || r3.AttributesCreated != 0 || r3.AttributesUpdated != 0 || r3.IndicatorsUnchanged != 2 {
		t.Fatalf("re-ingest of the same values: %+v", r3)
	}

	// A newer last seen is updated in place; a new category is added.
	h.body(header + line("198.51.100.1", "malicious,botnet", "2022-12-01", "80") + line("198.51.100.2", "malicious", "2022-11-27", "80"))
	r4 := h.mustRun(Options{})
	if r4.IndicatorsUpdated != 1 || r4.IndicatorsUnchanged != 1 || r4.AttributesUpdated != 1 || r4.AttributesCreated != 1 {
		t.Fatalf("changed run: %+v", r4)
	}
	after := h.lookup("198.51.100.1")
	a := attrs(after)
	if fmt.Sprint(a["Last Seen At"]) != "[2022-12-01T00:00:00Z]" || fmt.Sprint(a["Detected Categories"]) != "[botnet malicious]" {
		t.Errorf("after update: %v", a)
	}
	if nb, na := nvalues(before), nvalues(after); na != nb+1 {
		t.Errorf("attribute values %d -> %d, want exactly one more", nb, na)
	}
	for _, at := range after.Attributes {
		if at.Name == "Last Seen At" && (!at.CreatedAt.Equal(r1.StartedAt.Truncate(time.Millisecond)) || !at.UpdatedAt.Equal(r4.StartedAt.Truncate(time.Millisecond))) {
			t.Errorf("Last Seen At: created %v updated %v, want the first run's start %v and the last run's %v", at.CreatedAt, at.UpdatedAt, r1.StartedAt, r4.StartedAt)
		}
	}
	st, err := h.st.LookupStored(context.Background(), netip.MustParseAddr("198.51.100.1"))
	if err != nil {
		t.Fatal(err)
	}
	if st.Created[merge.LastSeenAt] != r1.ID || st.Updated[merge.LastSeenAt] != r4.ID || st.Updated[merge.Importance] != r1.ID {
		t.Errorf("attribute runs: created %v updated %v", st.Created, st.Updated)
	}
}

func TestSameDumpWithETagIsUnchanged(t *testing.T) {
	h := newHarness(t, 2000)
	r1 := h.mustRun(Options{}, "threshold=0", "categories=")
	snap := h.snapshot()
	requests := h.srv.Requests()
	r2 := h.mustRun(Options{}, "threshold=0", "categories=")
	if r1.Status != activity.StatusSucceeded || r2.Status != activity.StatusUnchanged || r2.HTTPStatus != 304 {
		t.Fatalf("runs: %s then %s (HTTP %d)", r1.Status, r2.Status, r2.HTTPStatus)
	}
	if h.srv.Requests() != requests+1 || h.snapshot() != snap {
		t.Error("an unchanged run changed the store or made extra requests")
	}
}

func TestMergeWithinOneRun(t *testing.T) {
	h := newHarness(t, 0)
	h.body(header +
		"198.51.100.1,2018-06-21T02:03:48,198.51.100.0/24,spam,old,a,,malicious,2021-02-09,2022-11-27,90\n" +
		"198.51.100.1,2018-06-21T02:03:48,198.51.100.0/24,spam,,b,,botnet,2021-02-09,2022-12-05,75\n" +
		"198.51.100.1,2018-06-21T02:03:48,198.51.100.0/24,spam,mid,c,,spam,2021-02-09,2022-12-01,99\n")
	r := h.mustRun(Options{}, "categories=", "context=all")
	if r.IndicatorsCreated != 1 || r.RowsKept != 3 {
		t.Fatalf("run: %+v", r)
	}
	a := attrs(h.lookup("198.51.100.1"))
	if fmt.Sprint(a["Cluster"]) != "[mid]" || fmt.Sprint(a["Importance"]) != "[75]" || fmt.Sprint(a["Last Seen At"]) != "[2022-12-05T00:00:00Z]" ||
		fmt.Sprint(a["Detected By"]) != "[a b c]" || fmt.Sprint(a["Detected Categories"]) != "[botnet malicious spam]" {
		t.Errorf("merged: %v", a)
	}
}

func TestDateWindow(t *testing.T) {
	csv := header + line("198.51.100.1", "malicious", "2022-11-27", "80") + line("198.51.100.2", "malicious", "2022-12-01", "80") +
		"198.51.100.3,,,,,,,malicious,,,80\n" +
		"198.51.100.4,2018-01-01,,,,,,malicious,2022-12-02,,80\n"
	h := newHarness(t, 0)
	h.body(csv)
	since := time.Date(2022, 11, 28, 0, 0, 0, 0, time.UTC)
	until := time.Date(2022, 12, 2, 0, 0, 0, 0, time.UTC)
	r := h.mustRun(Options{Since: &since, Until: &until}, "filter_by_date=true")
	if r.RowsKept != 1 || r.Dropped.OutsideWindow != 3 {
		t.Fatalf("explicit window: kept %d dropped %+v", r.RowsKept, r.Dropped)
	}
	if !r.Since.Equal(since) || !r.Until.Equal(until) {
		t.Errorf("window recorded as %s", r.Window())
	}

	// The next run starts at the last successful run's until minus the
	// 48h overlap, and ends now.
	now := time.Date(2022, 12, 10, 0, 0, 0, 0, time.UTC)
	r2 := h.mustRun(Options{Now: func() time.Time { return now }}, "filter_by_date=true")
	if want := until.Add(-48 * time.Hour); r2.Since == nil || !r2.Since.Equal(want) || !r2.Until.Equal(now) {
		t.Fatalf("overlap window %s, want since %s", r2.Window(), want)
	}
	if r2.RowsKept != 2 { // 2022-12-01 and the row detected 2022-12-02
		t.Errorf("second window kept %d, want 2", r2.RowsKept)
	}

	// With the filter off, every row passes.
	h2 := newHarness(t, 0)
	h2.body(csv)
	if r := h2.mustRun(Options{Since: &since, Until: &until}); r.RowsKept != 4 {
		t.Errorf("filter off kept %d, want 4", r.RowsKept)
	}
}

func TestDatasetB(t *testing.T) {
	h := newHarness(t, 3000)
	r := h.mustRun(Options{}, "dataset=B", "threshold=0", "categories=")
	if r.RowsRead != int64(h.srv.Stats().RowsB) || r.Dataset != "B" {
		t.Fatalf("dataset B: read %d rows, server has %d", r.RowsRead, h.srv.Stats().RowsB)
	}
	if r.Dropped.BelowThreshold != 0 {
		t.Errorf("dataset B has rows below 70? %+v", r.Dropped)
	}
	if !strings.Contains(h.logs.String(), "dataset=B") {
		t.Errorf("log does not mention the dataset: %s", h.logs.String())
	}
}

func TestFormatsAndLayouts(t *testing.T) {
	want := map[string][]string{"Importance": {"85"}, "Last Seen At": {"2022-11-27T00:00:00Z"}, "Detected Categories": {"botnet", "malicious"}}
	for name, body := range map[string]string{
		"reordered and extra columns, BOM, CRLF": "\ufeffImportance , extra,LAST_SEEN_AT,detected_categories,IP\r\n85,x,2022-11-27T00:00:00,\"malicious;Botnet\",198.51.100.7\r\n\r\n",
		"ndjson":                                 `{"ip":"198.51.100.7","importance":85,"last_seen_at":"2022-11-27T00:00:00","detected_categories":["malicious","Botnet"],"unknown":1}` + "\n",
	} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, 0)
			h.body(body)
			r := h.mustRun(Options{})
			if r.IndicatorsCreated != 1 {
				t.Fatalf("run: %+v", r)
			}
			a := attrs(h.lookup("198.51.100.7"))
			for k, v := range want {
				if fmt.Sprint(a[k]) != fmt.Sprint(v) {
					t.Errorf("%s = %v, want %v", k, a[k], v)
				}
			}
		})
	}
}

func TestInvalidRowsAreCountedAndReported(t *testing.T) {
	h := newHarness(t, 0)
	body := header +
		line("999.1.2.3", "malicious", "2022-11-27", "80") + // 2
		line("010.1.2.3", "malicious", "2022-11-27", "80") + // 3
		"fe80::1%eth0,,,,,,,malicious,,,80\n" + // 4
		line("198.51.100.1", "malicious", "2022-11-27", "101") + // 5
		line("198.51.100.2", "malicious", "2022-11-27", "high") + // 6
		"198.51.100.3,only,three\n" + // 7
		line("198.51.100.4", "malicious", "yesterday", "80") + // 8: warning, kept
		"198.51.100.5,2018-06-21,1.2.3.0/33,spam,c,d,,malicious,2021-02-09,2022-11-27,80\n" // 9: warning, kept
	for i := 0; i < 25; i++ {
		body += "bad-ip-" + fmt.Sprint(i) + ",,,,,,,,,,1\n"
	}
	h.body(body)
	r := h.mustRun(Options{})
	if r.Dropped.Invalid != 6+25 || r.RowsKept != 2 || r.Warnings != 2 {
		t.Fatalf("counts: %+v kept %d warnings %d", r.Dropped, r.RowsKept, r.Warnings)
	}
	if len(r.Problems) != activity.MaxProblems {
		t.Fatalf("%d problems kept, want %d", len(r.Problems), activity.MaxProblems)
	}
	for i, wantLine := range []int64{2, 3, 4, 5, 6, 7, 8, 9} {
		if r.Problems[i].Line != wantLine {
			t.Errorf("problem %d on line %d, want %d: %v", i, r.Problems[i].Line, wantLine, r.Problems[i])
		}
	}
	stored, err := h.st.Run(context.Background(), r.ID)
	if err != nil || len(stored.Problems) != activity.MaxProblems || stored.Dropped.Invalid != 31 {
		t.Errorf("stored run: %+v %v", stored, err)
	}
	if a := attrs(h.lookup("198.51.100.4")); a["Last Seen At"] != nil {
		t.Errorf("unparseable date stored: %v", a)
	}
}

func TestFailedRunsLeaveTheStoreUnchanged(t *testing.T) {
	// A run stages every row before it writes the store (see doc.go), so
	// a failure at any point of the body leaves the store as it was
	// whatever the dump's size: a few thousand rows, several merge
	// batches, are as telling as many more.
	h := newHarness(t, 4000)
	h.mustRun(Options{}, "threshold=0", "categories=")
	snap := h.snapshot()
	if strings.Count(snap, "\n") < 1000 {
		t.Fatalf("setup: only %d indicators", strings.Count(snap, "\n"))
	}
	// A new dump that would change many indicators.
	gz := regenerated(t, 4000, 8)
	for _, tc := range []struct {
		name  string
		setup func()
		want  string
	}{
		{"body breaks mid-stream", func() { h.srv.SetBody("a", gz); h.srv.SetFault(fakeseclytics.Fault{CutAfter: int64(len(gz) / 2)}) }, "interrupted"},
		{"corrupt gzip", func() {
			bad := bytes.Clone(gz)
			bad[len(bad)-6] ^= 0xff // the CRC-32 in the trailer
			h.srv.SetFault(fakeseclytics.Fault{})
			h.srv.SetBody("a", bad)
		}, "corrupt"},
		{"truncated gzip", func() { h.srv.SetBody("a", gz[:len(gz)*2/3]) }, "corrupt"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.setup()
			r, err := h.run(Options{}, "threshold=0", "categories=", "tries=1")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one mentioning %q", err, tc.want)
			}
			if r == nil || r.Status != activity.StatusFailed || r.Error == "" {
				t.Fatalf("run record: %+v", r)
			}
			if h.snapshot() != snap {
				t.Fatal("a failed run changed the store")
			}
			stored, _ := h.st.Run(context.Background(), r.ID)
			if stored.Status != activity.StatusFailed {
				t.Errorf("stored status %s", stored.Status)
			}
		})
	}
}

func regenerated(t *testing.T, rows int, seed int64) []byte {
	var b bytes.Buffer
	if _, err := dumpgen.Generate(context.Background(), &b, nil, dumpgen.Options{Rows: rows, Seed: seed}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestTokenNeverShows(t *testing.T) {
	h := newHarness(t, 500)
	var outputs []string
	collect := func(r *activity.Run, err error) {
		if err != nil {
			outputs = append(outputs, err.Error(), fmt.Sprintf("%+v", err))
		}
		if r != nil {
			outputs = append(outputs, r.Summary(), fmt.Sprintf("%+v", *r))
			stored, _ := h.st.Run(context.Background(), r.ID)
			outputs = append(outputs, fmt.Sprintf("%+v", stored))
		}
	}
	collect(h.run(Options{}))
	h.srv.SetFault(fakeseclytics.Fault{Status: 401})
	r, err := h.run(Options{})
	if err == nil || !strings.Contains(err.Error(), "Seclytics rejected the access token (HTTP 401): Invalid access token") || h.srv.Requests() != 2 {
		t.Errorf("401: %v after %d requests", err, h.srv.Requests())
	}
	collect(r, err)
	h.srv.SetFault(fakeseclytics.Fault{Status: 503})
	collect(h.run(Options{}, "tries=2"))
	h.srv.SetFault(fakeseclytics.Fault{CutAfter: 100})
	collect(h.run(Options{}, "tries=1"))
	h.srv.SetFault(fakeseclytics.Fault{})
	// A server that is not there: Go's *url.Error would print the URL.
	r, err = h.run(Options{}, "base_url=http://127.0.0.1:1", "tries=1")
	if err == nil {
		t.Fatal("connection refused did not fail")
	}
	collect(r, err)
	outputs = append(outputs, h.logs.String())
	runs, _ := h.st.Runs(context.Background(), "", 100)
	outputs = append(outputs, fmt.Sprintf("%+v", runs))
	for _, out := range outputs {
		if strings.Contains(out, testToken) {
			t.Fatalf("the token leaked:\n%s", out)
		}
	}
	if !strings.Contains(h.logs.String(), "level=DEBUG") && !strings.Contains(h.logs.String(), "level=INFO") {
		t.Errorf("the logger was not exercised: %q", h.logs.String())
	}
}

func TestSecondRunFailsWhileOneIsInProgress(t *testing.T) {
	h := newHarness(t, 500)
	lock, err := h.st.LockFeed(context.Background(), Name)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	_, err = h.run(Options{})
	var ip *store.InProgressError
	if !errors.As(err, &ip) || !strings.Contains(err.Error(), "a run of seclytics is already in progress") {
		t.Fatalf("got %v", err)
	}
}

func TestEmptyDumpSucceedsWithAWarning(t *testing.T) {
	for name, body := range map[string]string{"empty": "", "header only": header} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, 0)
			h.body(body)
			r := h.mustRun(Options{})
			if r.Status != activity.StatusSucceeded || r.RowsRead != 0 || r.Warnings != 1 || !strings.Contains(r.Summary(), "no rows") {
				t.Errorf("run: %+v", r)
			}
		})
	}
}

func TestDryRunWritesNothing(t *testing.T) {
	h := newHarness(t, 3000)
	r := h.mustRun(Options{DryRun: true}, "threshold=0", "categories=")
	if r.RowsKept == 0 || r.IndicatorsCreated != 0 || h.snapshot() != "" {
		t.Fatalf("dry run: %+v", r)
	}
	// It does not move the watermark or store validators either.
	if _, st, _ := h.st.FeedConfig(context.Background(), Name); st.ETag != "" || st.Watermark != 0 {
		t.Errorf("dry run stored state: %+v", st)
	}
}

func TestDryRunCountsKeptRowsByImportance(t *testing.T) {
	h := newHarness(t, 0)
	h.body(header +
		line("198.51.100.1", "spam", "2022-11-27", "85.5") +
		line("198.51.100.2", "spam", "2022-11-27", "70") +
		line("198.51.100.3", "spam", "2022-11-27", "69.9") +
		line("198.51.100.4", "spam", "2022-11-27", "40") +
		line("198.51.100.5", "spam", "2022-11-27", "39") +
		line("198.51.100.6", "spam", "2022-11-27", "") +
		line("198.51.100.7", "spam", "2022-11-27", "") +
		line("not-an-ip", "spam", "2022-11-27", "90"))
	r := h.mustRun(Options{DryRun: true}, "threshold=0", "categories=")
	// An empty importance is not a number from 0 to 100: the row is
	// invalid, reported with its line number, and not kept.
	if r.Dropped.Invalid != 3 || r.RowsKept != 5 {
		t.Errorf("invalid %d kept %d, want 3 invalid and 5 kept", r.Dropped.Invalid, r.RowsKept)
	}
	for i, line := range []int64{7, 8} {
		if i >= len(r.Problems) || r.Problems[i].Line != line || !strings.Contains(r.Problems[i].Message, "importance") {
			t.Errorf("problems %v, want line %d's empty importance", r.Problems, line)
		}
	}
	want := activity.ByImportance{High: 2, Medium: 2, Low: 1}
	if diff := cmp.Diff(want, r.KeptByImportance); diff != "" {
		t.Errorf("kept by importance (-want +got):\n%s", diff)
	}
	if got := r.KeptByImportance.Total(); got != r.RowsKept {
		t.Errorf("importance counts sum to %d, rows kept %d", got, r.RowsKept)
	}
	if !strings.Contains(r.Summary(), "kept 2 high, 2 medium, 1 low, 0 without importance") {
		t.Errorf("summary lacks the importance counts:\n%s", r.Summary())
	}
	// The activity log keeps them.
	stored, err := h.st.Run(context.Background(), r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, stored.KeptByImportance); diff != "" {
		t.Errorf("stored kept by importance (-want +got):\n%s", diff)
	}
}
