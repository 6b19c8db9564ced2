package server

import (
	"context"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"forewarn/internal/apikey"
	"forewarn/internal/config"
	"forewarn/internal/store"
)

// TestUIPageTimes measures the web UI's pages on a store: a 1,000-row one it
// builds, or the store named by FOREWARN_UI_BENCH_DB (for example one of
// 4.6M indicators built with forewarn fake-seclytics and forewarn run; see
// docs/performance.md). It runs only when FOREWARN_UI_BENCH=1, and fails if
// a page takes a second or more.
func TestUIPageTimes(t *testing.T) {
	if os.Getenv("FOREWARN_UI_BENCH") != "1" {
		t.Skip("page timings run with FOREWARN_UI_BENCH=1 (and FOREWARN_UI_BENCH_DB=store for a large one)")
	}
	db := os.Getenv("FOREWARN_UI_BENCH_DB")
	var h *harness
	if db == "" {
		h = startServe(t, "", newFake(t, 1000, nil))
		h.configure(map[string]any{"context": config.ContextNames, "normalize": true})
		id := h.must(202, "POST", "/api/v1/feeds/seclytics/runs", h.admin, nil).body["run_id"].(float64)
		h.waitRun(id)
	} else {
		st, err := store.Open(context.Background(), db)
		if err != nil {
			t.Fatal(err)
		}
		key, _, err := st.CreateAPIKey(context.Background(), fmt.Sprintf("ui-bench-%d", time.Now().UnixNano()), apikey.RoleAdmin)
		st.Close()
		if err != nil {
			t.Fatal(err)
		}
		h = startServe(t, db, nil)
		h.admin = key
	}
	c, _ := h.uiClient(h.admin)
	get := func(path string) (time.Duration, string) {
		t.Helper()
		t0 := time.Now()
		resp, err := c.Get(h.base + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		d := time.Since(t0)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d", path, resp.StatusCode)
		}
		return d, string(body)
	}
	// The first dashboard view starts computing the aggregates; time that
	// once, then measure views of the cached aggregates.
	cold, body := get("/")
	t0 := time.Now()
	for strings.Contains(body, `id="computing"`) {
		time.Sleep(200 * time.Millisecond)
		_, body = get("/")
	}
	t.Logf("first dashboard view %s; aggregates ready after %s", cold.Round(time.Millisecond), (cold + time.Since(t0)).Round(time.Millisecond))

	ind := h.must(200, "GET", "/api/v1/indicators?limit=1&cursor=", h.admin, nil).body["indicators"].([]any)[0].(map[string]any)
	ip := ind["value"].(string)
	cidr := ip[:strings.LastIndex(ip, ".")] + ".0/24"
	pages := []string{
		"/", "/integrations/seclytics", "/integrations/seclytics/activity",
		"/indicators", "/indicators?status=Active", "/indicators?q=" + url.QueryEscape(cidr), "/indicators?sort=-importance",
		"/indicators?status=&sort=-importance",
		"/indicators/" + ip, "/indicators/" + ip + "/cluster?cluster=" + url.QueryEscape(clusterOf(ind)), "/lookup?ips=" + url.QueryEscape(ip+"\n192.0.2.1"),
	}
	// A page deep in the importance order, inside a run of ties: it must
	// seek to its cursor, not read the pages before it.
	deep := "/indicators?sort=importance"
	for range 20 {
		_, body := get(deep)
		m := nextPageRE.FindStringSubmatch(body)
		if m == nil {
			break
		}
		deep = html.UnescapeString(m[1])
	}
	pages = append(pages, deep)
	for _, p := range pages {
		var ds []time.Duration
		for range 7 {
			d, _ := get(p)
			ds = append(ds, d)
		}
		slices.Sort(ds)
		t.Logf("%-45s median %8s  max %8s", p, ds[len(ds)/2].Round(100*time.Microsecond), ds[len(ds)-1].Round(100*time.Microsecond))
		// Sorting indicators of every status by importance reads the whole
		// table (only Active ones have an index, see migration 006); it is
		// recorded in docs/performance.md rather than held to the bound.
		if ds[len(ds)/2] >= time.Second && !strings.Contains(p, "status=&sort=-importance") {
			t.Errorf("GET %s: median %s, want under 1s", p, ds[len(ds)/2])
		}
	}
}

var nextPageRE = regexp.MustCompile(`href="([^"]+)" id="next-page"`)

func clusterOf(ind map[string]any) string {
	attrs, _ := ind["attributes"].([]any)
	for _, a := range attrs {
		m, _ := a.(map[string]any)
		if m["name"] == "Cluster" {
			s, _ := m["value"].(string)
			return s
		}
	}
	return ""
}
