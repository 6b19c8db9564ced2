package server

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"regexp"
	"strings"
	"testing"
	"time"

	"forewarn/internal/store"
	"forewarn/internal/testutil/pgtest"
)

// A dump naming thousands of predicted categories gives a dashboard that
// lists the top 20 by name and one "other" row for the rest, with their
// count: the page stays small (200,000 categories made a 16 MB page).
func TestDashboardListsTopCategories(t *testing.T) {
	const cats = 3000
	var csv strings.Builder
	csv.WriteString("ip,predicted_at,predicted_category,detected_at,last_seen_at,importance\n")
	for i := range cats {
		// Category c0000 has the most indicators: three; c0001..c0004 two.
		n := 1
		switch {
		case i == 0:
			n = 3
		case i < 5:
			n = 2
		}
		for j := range n {
			fmt.Fprintf(&csv, "10.%d.%d.%d,2026-01-01T00:00:00,c%04d,2026-01-11T00:00:00,2026-02-01T00:00:00,50\n", i/250, i%250, j+1, i)
		}
	}
	h := startServe(t, "", newFake(t, 10, gz(t, csv.String())))
	h.configure(map[string]any{"age_out": "never", "context": []string{"Importance", "Predicted Category", "Predicted At", "Detected At", "Last Seen At"}})
	run := h.waitRun(h.must(202, "POST", "/api/v1/feeds/seclytics/runs", h.admin, nil).body["run_id"].(float64))
	if run["status"] != "succeeded" {
		t.Fatalf("run: %v", run)
	}
	c, _ := h.uiClient(h.admin)
	var page string
	for deadline := time.Now().Add(30 * time.Second); ; {
		resp, err := c.Get(h.base + "/")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		page = string(body)
		if strings.Contains(page, `id="lead-by-category"`) && !strings.Contains(page, "refreshing") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no lead-time table within 30s:\n%.3000s", page)
		}
		time.Sleep(20 * time.Millisecond)
	}
	table := page[strings.Index(page, `id="lead-by-category"`):]
	table = table[:strings.Index(table, "</table>")]
	rows := strings.Count(table, "<tr>") - 1 // the header row
	t.Logf("%d categories: %d rows, page %d bytes", cats, rows, len(page))
	if rows != 21 {
		t.Errorf("the lead-time table has %d rows, want 20 categories and one other", rows)
	}
	first := regexp.MustCompile(`<tbody><tr><td>([^<]+)</td><td class="num">\d+</td><td class="num">(\d+)</td>`).FindStringSubmatch(table)
	if first == nil || first[1] != "c0000" || first[2] != "3" {
		t.Errorf("the first row is %v, want c0000 with 3 indicators", first)
	}
	// 3000 categories, 3006 indicators; the top 20 hold 3+4*2+15 = 26.
	// Counts are written with thousands separators.
	if want := fmt.Sprintf(`other (%d,%03d more categories)</em></td><td class="num">10</td><td class="num">%d,%03d</td>`, (cats-20)/1000, (cats-20)%1000, (3006-26)/1000, (3006-26)%1000); !strings.Contains(table, want) {
		t.Errorf("no other row %q in:\n%s", want, table)
	}
	if len(page) > 64<<10 {
		t.Errorf("the dashboard is %d bytes, want under 64 KB", len(page))
	}
}

// The lead-time card shows both measures side by side with the counts
// behind each: Seclytics' own (Detected At, 10 days after Predicted At for
// both predictions) and the independent one (a list feed first listed one
// of the two 30 days after it was predicted).
func TestDashboardShowsBothLeadTimes(t *testing.T) {
	ctx := context.Background()
	db := pgtest.Path(t, t.TempDir())
	st, err := store.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	a := netip.MustParsePrefix("45.9.148.1/32")
	if _, err := st.IngestList(ctx, store.ListRun{Feed: "drop", Source: "Spamhaus DROP", Mode: store.ModeCumulative, Confidence: 90},
		&oneEntry{e: store.ListEntry{Prefix: a, FirstSeen: time.Date(2026, 1, 31, 0, 0, 0, 0, time.UTC)}}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	// 45.9.148.2 names a netblock, confirmed apart by the listing of
	// 45.9.148.1 in it, 30 days after the prediction.
	csv := "ip,predicted_at,predicted_netblock,predicted_category,detected_at,last_seen_at,importance\n" +
		"45.9.148.1,2026-01-01T00:00:00,,botnet,2026-01-11T00:00:00,2026-02-01T00:00:00,50\n" +
		"45.9.148.2,2026-01-01T00:00:00,45.9.148.0/24,botnet,2026-01-11T00:00:00,2026-02-01T00:00:00,50\n"
	h := startServe(t, db, newFake(t, 10, gz(t, csv)))
	h.configure(map[string]any{"age_out": "never", "context": []string{"Importance", "Predicted Category", "Predicted At", "Detected At", "Last Seen At"}})
	run := h.waitRun(h.must(202, "POST", "/api/v1/feeds/seclytics/runs", h.admin, nil).body["run_id"].(float64))
	if run["status"] != "succeeded" {
		t.Fatalf("run: %v", run)
	}
	c, _ := h.uiClient(h.admin)
	var own, independent string
	for deadline := time.Now().Add(30 * time.Second); ; {
		resp, err := c.Get(h.base + "/")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		page := string(body)
		if i, j := strings.Index(page, `id="lead-own"`), strings.Index(page, `id="lead-independent"`); i >= 0 && j > i && strings.Contains(page, "indicators with both dates") {
			own, independent = page[i:j], page[j:]
			independent = independent[:strings.Index(independent, "</div>")]
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no lead-time card within 30s:\n%.3000s", page)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(own, "<strong>10 days</strong>") || !strings.Contains(own, "over <strong>2</strong> indicators with both dates") {
		t.Errorf("Seclytics' own measure: %s", own)
	}
	if !strings.Contains(independent, "<strong>30 days</strong>") || !strings.Contains(independent, "over <strong>1</strong> of 2 predictions confirmed (50%)") ||
		!strings.Contains(independent, "<strong>0</strong> (0%) were listed before") {
		t.Errorf("independent measure: %s", independent)
	}
	if !strings.Contains(independent, `<p id="lead-netblock">Counted apart, predicted netblocks: <strong>1</strong> of 1 predictions naming a netblock (100%) saw another address in it listed, a median of <strong>30 days</strong> after the prediction`) {
		t.Errorf("netblock measure: %s", independent)
	}
}

type oneEntry struct {
	e    store.ListEntry
	done bool
}

func (o *oneEntry) Next() (store.ListEntry, error) {
	if o.done {
		return store.ListEntry{}, io.EOF
	}
	o.done = true
	return o.e, nil
}
