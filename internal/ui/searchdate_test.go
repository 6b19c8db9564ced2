package ui

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"forewarn/internal/testutil"
)

// The search's date range and min-sources filters are chips that remove
// themselves, and refused values are named on the page, all at once.
func TestSearchDateRangeAndSources(t *testing.T) {
	st := testutil.Store(t)
	writeActive(t, st, 3)
	u, req := uiServerUI(t, st, Deps{Log: slog.New(slog.DiscardHandler)})
	body := req("/indicators?status=&date=detected&from=2026-03&until=2026-04&min_sources=1", nil)
	for _, want := range []string{
		`Detected: <strong>2026-03 to 2026-04 (UTC, until excluded)</strong>`,
		`href="/indicators?min_sources=1&amp;status=" aria-label="Remove the filter Detected`,
		`Listed by at least: <strong>1 feed</strong>`,
		// These indicators carry no Detected At: none is in the range.
		`0 indicators match`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the search page lacks %s: %s", want, body)
		}
	}
	if body := req("/indicators?status=&min_sources=1", nil); !strings.Contains(body, "3 indicators match") {
		t.Errorf("min_sources=1 without a date range: %s", body)
	}
	mux := http.NewServeMux()
	u.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	r, _ := http.NewRequest("GET", srv.URL+"/indicators?date=seen&from=03/01/2026&until=soon&min_sources=-1", nil)
	r.AddCookie(&http.Cookie{Name: cookieName, Value: "session-cookie-pages"})
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("refused filters: HTTP %d, want 400", resp.StatusCode)
	}
	for _, want := range []string{`id="from-error"`, `id="until-error"`, `id="min_sources-error"`, "must be predicted or detected", "03/01/2026", `value="03/01/2026"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("the refused search lacks %s: %s", want, b)
		}
	}
}
