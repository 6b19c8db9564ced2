package api

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"forewarn/internal/activity"
	"forewarn/internal/apikey"
	"forewarn/internal/feed"
	"forewarn/internal/indicator"
	"forewarn/internal/lookup"
	"forewarn/internal/merge"
	"forewarn/internal/store"
	"forewarn/internal/testutil"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the API's current answers")

// TestGoldenJSON pins the JSON of GET /runs/{id}, GET /indicators/{ip} and
// the lookups:
// clients parse them, so a change in the pipeline's structs (the merge
// engine's counts, the parser's problems) must not move a field. The store
// is seeded with fixed times and every field set; ids are normalised, as
// they depend on the backend's sequences.
func TestGoldenJSON(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st := testutil.Store(t)
	key, _, err := st.CreateAPIKey(ctx, "golden", apikey.RoleRead)
	if err != nil {
		t.Fatal(err)
	}
	runID := seedGoldenRun(ctx, t, st)
	bareRunID := seedBareRun(ctx, t, st)
	seedGoldenIndicators(ctx, t, st, runID)

	look := lookup.NewService(st)
	if err := look.Rebuild(ctx); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	New(Deps{Store: st, Lookup: look}).Register(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	for _, tc := range []struct{ name, path, body string }{
		{"run", "/api/v1/runs/" + strconv.FormatInt(runID, 10), ""},
		{"run-bare", "/api/v1/runs/" + strconv.FormatInt(bareRunID, 10), ""},
		{"indicator", "/api/v1/indicators/198.51.100.7", ""},
		{"indicator-bare", "/api/v1/indicators/2001:db8::9", ""},
		{"lookup-listed", "/api/v1/lookup?ip=198.51.100.7", ""},
		{"lookup-many", "/api/v1/lookup", `{"ips": ["198.51.100.8", "2001:db8::9", "192.0.2.1"]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := normalise(askJSON(ctx, t, srv.URL+tc.path, tc.body, key))
			file := filepath.Join("testdata", tc.name+".golden")
			if *update {
				if err := os.WriteFile(file, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(file)
			if err != nil {
				t.Fatalf("%v (run go test -run TestGoldenJSON -update to create it)", err)
			}
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("GET %s moved (-golden +now):\n%s", tc.path, diff)
			}
		})
	}
}

// askJSON returns the body of a 200 answer to a GET, or a POST of body,
// indented.
func askJSON(ctx context.Context, t *testing.T, url, body, key string) []byte {
	t.Helper()
	method := http.MethodGet
	if body != "" {
		method = http.MethodPost
	}
	req, _ := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s %v", url, resp.StatusCode, raw, err)
	}
	var b bytes.Buffer
	if err := json.Indent(&b, raw, "", "  "); err != nil {
		t.Fatalf("GET %s: not JSON: %v: %s", url, err, raw)
	}
	return b.Bytes()
}

var (
	idField    = regexp.MustCompile(`"id": [0-9]+`)
	builtField = regexp.MustCompile(`"index_built_at": "[^"]*"`)
)

// normalise replaces every id with 1 and the lookup index's build time
// with a fixed one: the golden files pin the shape and the values, not the
// backend's sequence numbers or the test's clock.
func normalise(b []byte) []byte {
	b = idField.ReplaceAll(b, []byte(`"id": 1`))
	return builtField.ReplaceAll(b, []byte(`"index_built_at": "2026-03-01T12:00:00Z"`))
}

// goldenStart is when the golden run started; every time in the golden
// files derives from it.
var goldenStart = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// seedGoldenRun records a finished run with every field set.
func seedGoldenRun(ctx context.Context, t *testing.T, st *store.Store) int64 {
	t.Helper()
	since, until, finished := goldenStart.Add(-72*time.Hour), goldenStart.Add(-time.Hour), goldenStart.Add(90*time.Second)
	r := activity.Run{Feed: "seclytics", Trigger: activity.TriggerManual, Status: activity.StatusRunning, Dataset: "A",
		StartedAt: goldenStart, Since: &since, Until: &until, Host: "golden-host", PID: 4242}
	if err := st.CreateRun(ctx, &r); err != nil {
		t.Fatal(err)
	}
	r.Status, r.FinishedAt = activity.StatusFailed, &finished
	r.HTTPStatus, r.BytesDownloaded, r.RowsRead, r.RowsKept = 200, 123456, 1000, 900
	r.Dropped = activity.Dropped{Invalid: 1, BelowThreshold: 2, CategoryNotListed: 3, OutsideWindow: 4}
	r.KeptByImportance = activity.ByImportance{High: 5, Medium: 6, Low: 7, None: 8}
	r.RowsAllowlisted, r.Warnings = 9, 10
	r.IndicatorsCreated, r.IndicatorsUpdated, r.IndicatorsUnchanged = 11, 12, 13
	r.AttributesCreated, r.AttributesUpdated, r.IndicatorsExpired = 14, 15, 16
	r.Error = "the golden run failed on purpose"
	r.Problems = nil
	addGoldenProblems(&r)
	if err := st.FinishRun(ctx, &r); err != nil {
		t.Fatal(err)
	}
	return r.ID
}

// seedBareRun records a finished run with every optional field empty, to
// pin which fields are left out.
func seedBareRun(ctx context.Context, t *testing.T, st *store.Store) int64 {
	t.Helper()
	r := activity.Run{Feed: "seclytics", Trigger: activity.TriggerSchedule, Status: activity.StatusRunning, Dataset: "B",
		DryRun: true, StartedAt: goldenStart.Add(time.Hour), Host: "golden-host", PID: 1}
	if err := st.CreateRun(ctx, &r); err != nil {
		t.Fatal(err)
	}
	finished := r.StartedAt.Add(1500 * time.Millisecond)
	r.Status, r.FinishedAt = activity.StatusUnchanged, &finished
	if err := st.FinishRun(ctx, &r); err != nil {
		t.Fatal(err)
	}
	return r.ID
}

// seedGoldenIndicators writes one indicator with every attribute, created
// and updated by the golden run, and one with none and no expiry.
func seedGoldenIndicators(ctx context.Context, t *testing.T, st *store.Store, runID int64) {
	t.Helper()
	day := goldenStart.Unix()
	s := &merge.Stored{Status: indicator.StatusReview, CreatedAt: day, UpdatedAt: day + 60, ExpiresAt: day + 86400, SeenAt: day}
	s.Record = merge.Record{Addr: netip.MustParseAddr("198.51.100.7"),
		PredictedAt: day - 3600, DetectedAt: day - 7200, LastSeenAt: day - 60,
		PredictedNetblock: netip.MustParsePrefix("198.51.100.0/24"), PredictedCategory: "botnet", Cluster: "c-17",
		Importance: 72.5, Normalized: indicator.High,
		DetectedBy: []string{"honeypot", "sinkhole"}, DetectedIdentifiers: []string{"id-1"}, DetectedCategories: []string{"malware", "scanner"},
		LookupNetblock: netip.MustParsePrefix("198.51.100.0/24")}
	for slot := merge.Slot(0); slot < merge.NumSlots; slot++ {
		s.Has = s.Has.With(slot)
		s.Created[slot], s.Updated[slot] = runID, runID
	}
	tx, err := st.BeginIngest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	bare := &merge.Stored{Status: indicator.StatusActive, CreatedAt: day, UpdatedAt: day}
	bare.Addr = netip.MustParseAddr("2001:db8::9")
	if err := tx.Write(ctx, []*merge.Stored{s, bare}); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

func addGoldenProblems(r *activity.Run) {
	r.AddProblem(activity.Problem{Line: 3, Kind: activity.ProblemInvalid, Message: "ip x is not a valid IPv4 or IPv6 address"})
	r.AddProblem(activity.Problem{Line: 8, Kind: activity.ProblemWarning, Message: "importance dropped"})
}

// TestGoldenRunProgress pins a running run's live progress, which only a
// run in this process has (the HTTP test above has none running).
func TestGoldenRunProgress(t *testing.T) {
	r := activity.Run{ID: 1, Feed: "seclytics", Trigger: activity.TriggerManual, Status: activity.StatusRunning, Dataset: "A",
		StartedAt: goldenStart, Host: "golden-host", PID: 4242}
	snap := feed.Snapshot{Phase: feed.PhaseStarting, Bytes: 1, TotalBytes: 2, Rows: 3, Kept: 4, Merged: 5}
	raw, err := json.Marshal(runJSON(r, &snap))
	if err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	if err := json.Indent(&got, raw, "", "  "); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join("testdata", "run-progress.golden")
	if *update {
		if err := os.WriteFile(file, got.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (run go test -run TestGoldenRunProgress -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), got.String()); diff != "" {
		t.Errorf("a running run's JSON moved (-golden +now):\n%s", diff)
	}
}
