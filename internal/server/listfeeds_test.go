package server

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"forewarn/internal/activity"
	"forewarn/internal/store"
	"forewarn/internal/testutil/pgtest"
)

// TestServeSchedulesListFeeds: four list feeds enabled before serve starts
// are all due at once; serve runs each (their downloads side by side: the
// publisher answers none until all four asked), every run succeeds, and
// the lookup index then finds a listed network.
func TestServeSchedulesListFeeds(t *testing.T) {
	fixtures := map[string]struct{ path, file string }{
		"spamhaus-drop": {"/drop/drop.txt", "spamhaus-drop/2026-08-12.txt"},
		"feodo":         {"/downloads/ipblocklist.csv", "feodo-ipblocklist-csv/2021-10-25.csv"},
		"dshield":       {"/block.txt", "dshield-block/2026-08-21.txt"},
		"tor-exits":     {"/exit-addresses", "tor-exit-addresses/2018-10-11"},
	}
	bodies := map[string][]byte{}
	for _, f := range fixtures {
		b, err := os.ReadFile("../feeddef/testdata/feeds/" + f.file)
		if err != nil {
			t.Fatal(err)
		}
		bodies[f.path] = b
	}
	var arrived sync.WaitGroup
	all := make(chan struct{})
	arrived.Add(len(fixtures))
	go func() { arrived.Wait(); close(all) }()
	var once sync.Map
	pub := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, ok := bodies[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		if _, again := once.LoadOrStore(r.URL.Path, true); !again {
			arrived.Done()
		}
		select {
		case <-all:
		case <-time.After(20 * time.Second):
			http.Error(w, "the four downloads did not overlap", http.StatusServiceUnavailable)
			return
		}
		w.Write(b)
	}))
	defer pub.Close()

	ctx := context.Background()
	db := pgtest.Path(t, t.TempDir())
	st, err := store.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for id := range fixtures {
		if err := st.SaveListFeedConfig(ctx, id, store.ListFeedConfig{BaseURL: pub.URL}); err != nil {
			t.Fatal(err)
		}
		if err := st.SetFeedEnabled(ctx, id, true); err != nil {
			t.Fatal(err)
		}
	}
	h := startServe(t, db, nil)

	done := map[string]activity.Run{}
	waitFor(t, "the four scheduled list runs to finish", func() bool {
		runs, err := st.Runs(ctx, "", 20)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range runs {
			if _, ok := fixtures[r.Feed]; ok && r.Status != activity.StatusRunning {
				done[r.Feed] = r
			}
		}
		return len(done) == len(fixtures)
	})
	for id, r := range done {
		if r.Status != activity.StatusSucceeded || r.Trigger != activity.TriggerSchedule || r.IndicatorsCreated == 0 {
			t.Errorf("%s: %s (%s), %d created: %s", id, r.Status, r.Trigger, r.IndicatorsCreated, r.Error)
		}
	}
	// The lookup index follows list runs: an address inside a DROP
	// network is listed.
	waitFor(t, "the lookup index to list 1.10.16.1 (in DROP's 1.10.16.0/20)", func() bool {
		return h.must(200, "GET", "/api/v1/lookup?ip=1.10.16.1", h.admin, nil).body["verdict"] == "listed"
	})
}

// TestListFeedsAPI: an admin adds a custom definition (POST /feeds, body
// capped, problems with line:column), configures, enables and runs it
// through the per-feed routes, sees it in GET /feeds beside the built-ins,
// and removes it; a built-in cannot be removed.
func TestListFeedsAPI(t *testing.T) {
	def, err := os.ReadFile("../feeddef/testdata/custom/acme-threats.yaml")
	if err != nil {
		t.Fatal(err)
	}
	csv, err := os.ReadFile("../feeddef/testdata/custom/acme-threats.csv")
	if err != nil {
		t.Fatal(err)
	}
	body := gz(t, string(csv))
	pub := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v2/export/all.csv.gz" || r.Header.Get("Authorization") != "Bearer acme-secret" {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		w.Write(body)
	}))
	defer pub.Close()
	h := startServe(t, "", nil)

	bad := h.must(400, "POST", "/api/v1/feeds", h.admin, "id: bad\nmode: sometimes\n")
	if bad.errField() != "definition" || !strings.Contains(string(bad.raw), "2:7:") {
		t.Fatalf("invalid definition: %s", bad.raw)
	}
	h.must(413, "POST", "/api/v1/feeds", h.admin, strings.Repeat("#", 300<<10))
	added := h.must(201, "POST", "/api/v1/feeds", h.admin, string(def))
	if added.body["name"] != "acme-threats" || added.body["builtin"] != false || len(added.body["parameters"].([]any)) != 5 {
		t.Fatalf("added: %s", added.raw)
	}
	h.must(409, "POST", "/api/v1/feeds", h.admin, string(def))

	put := h.must(200, "PUT", "/api/v1/feeds/acme-threats", h.admin,
		map[string]any{"settings": map[string]any{"min_score": 10}, "base_url": pub.URL, "token": "acme-secret"})
	cfg := put.body["config"].(map[string]any)
	if cfg["settings"].(map[string]any)["min_score"] != "10" || cfg["token"].(map[string]any)["configured"] != true || strings.Contains(string(put.raw), "acme-secret") {
		t.Fatalf("configured: %s", put.raw)
	}
	if r := h.must(400, "PUT", "/api/v1/feeds/acme-threats", h.admin, map[string]any{"settings": map[string]any{"nope": 1}}); r.errField() != "nope" {
		t.Fatalf("unknown parameter: %s", r.raw)
	}
	run := h.must(202, "POST", "/api/v1/feeds/acme-threats/runs", h.admin, nil)
	if r := h.waitRun(run.body["run_id"].(float64)); r["status"] != "succeeded" || r["indicators_created"] != float64(4) {
		t.Fatalf("run: %v", r)
	}
	// Enabled after a run: the next run is due in 6h, the definition's
	// schedule.
	if r := h.must(200, "POST", "/api/v1/feeds/acme-threats/enable", h.admin, nil); r.body["next_run"] == nil {
		t.Fatalf("enabled but not scheduled: %s", r.raw)
	}

	feeds := h.must(200, "GET", "/api/v1/feeds", h.admin, nil).body["feeds"].([]any)
	kinds := map[string]string{}
	for _, f := range feeds {
		m := f.(map[string]any)
		kinds[m["name"].(string)] = m["kind"].(string)
		if m["name"] == "acme-threats" && (m["enabled"] != true || m["indicators"] != float64(4) || m["frequency"] != "6h") {
			t.Errorf("acme-threats listed as %v", m)
		}
	}
	if feeds[0].(map[string]any)["name"] != "seclytics" || kinds["spamhaus-drop"] != "list" || kinds["acme-threats"] != "list" {
		t.Fatalf("GET /feeds: %v", kinds)
	}
	h.must(409, "DELETE", "/api/v1/feeds/spamhaus-drop", h.admin, nil)
	h.must(200, "DELETE", "/api/v1/feeds/acme-threats", h.admin, nil)
	h.must(404, "GET", "/api/v1/feeds/acme-threats", h.admin, nil)
}

// TestUIListFeeds: the Integrations page lists every feed; a list feed's
// page has a settings form generated from its definition's parameters,
// refuses a bad value next to its field, saves a good one and enables the
// feed.
func TestUIListFeeds(t *testing.T) {
	h := startServe(t, "", nil)
	c, csrf := h.uiClient(h.admin)
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := c.Get(h.base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	post := func(path string, form url.Values) (int, string) {
		t.Helper()
		form.Set("csrf", csrf)
		resp, err := c.PostForm(h.base+path, form)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, page := get("/integrations")
	if code != 200 || !strings.Contains(page, `href="/integrations/seclytics"`) || !strings.Contains(page, `href="/integrations/feeds/ipsum"`) ||
		!strings.Contains(page, `id="catalog-spamhaus-drop"`) {
		t.Fatalf("integrations: %d\n%s", code, page)
	}
	code, page = get("/integrations/feeds/ipsum")
	if code != 200 || !strings.Contains(page, `name="p.min_lists"`) || !strings.Contains(page, "Minimum number of lists") {
		t.Fatalf("ipsum page: %d\n%s", code, page)
	}
	code, page = post("/integrations/feeds/ipsum/config", url.Values{"p.min_lists": {"5000"}})
	if code != http.StatusUnprocessableEntity || !strings.Contains(page, `role="alert"`) || !strings.Contains(page, `value="5000"`) {
		t.Fatalf("bad value: %d\n%s", code, page)
	}
	code, page = post("/integrations/feeds/ipsum/config", url.Values{"p.min_lists": {"3"}, "schedule": {"6h"}})
	if code != 200 || !strings.Contains(page, "Settings saved.") || !strings.Contains(page, `value="3"`) {
		t.Fatalf("save: %d\n%s", code, page)
	}
	// Enabled, serve runs it at once: against a loopback server, never the
	// publisher.
	nowhere := httptest.NewServer(http.NotFoundHandler())
	defer nowhere.Close()
	h.must(200, "PUT", "/api/v1/feeds/ipsum", h.admin, map[string]any{"base_url": nowhere.URL})
	code, page = post("/integrations/feeds/ipsum/enable", url.Values{})
	if code != 200 || !strings.Contains(page, `id="feed-state" class="badge succeeded">Enabled`) {
		t.Fatalf("enable: %d\n%s", code, page)
	}
	if code, _ := get("/integrations/feeds/no-such-feed"); code != 404 {
		t.Errorf("unknown feed page: %d", code)
	}
}
