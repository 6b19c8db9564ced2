package server

import (
	"fmt"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"
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
