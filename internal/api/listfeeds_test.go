package api

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"forewarn/internal/apikey"
	"forewarn/internal/lookup"
	"forewarn/internal/store"
	"forewarn/internal/testutil"
)

type prefixes struct {
	p []string
	i int
}

func (l *prefixes) Next() (store.ListEntry, error) {
	if l.i == len(l.p) {
		return store.ListEntry{}, io.EOF
	}
	l.i++
	return store.ListEntry{Prefix: netip.MustParsePrefix(l.p[l.i-1]), LastSeen: time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)}, nil
}

// Two list feeds over HTTP: the search's feed, min_sources and
// min_confidence filters, and a lookup inside a listed network naming it,
// with every feed's listing.
func TestListFeedsOverHTTP(t *testing.T) {
	ctx := context.Background()
	st := testutil.Store(t)
	for _, f := range []struct {
		id   string
		conf int
		p    []string
	}{{"drop", 90, []string{"198.51.100.0/24", "192.0.2.1/32"}}, {"dshield", 50, []string{"198.51.100.0/24", "192.0.2.2/32"}}} {
		if _, err := st.IngestList(ctx, store.ListRun{Feed: f.id, Source: "Src " + f.id, Mode: store.ModeSnapshot, Confidence: f.conf},
			&prefixes{p: f.p}); err != nil {
			t.Fatal(err)
		}
	}
	key, _, err := st.CreateAPIKey(ctx, "siem", apikey.RoleRead)
	if err != nil {
		t.Fatal(err)
	}
	look := lookup.NewService(st)
	if err := look.Rebuild(ctx); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	New(Deps{Store: st, Lookup: look}).Register(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	get := func(path string, into any) int {
		t.Helper()
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if err := json.NewDecoder(resp.Body).Decode(into); err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode
	}
	values := func(path string) []string {
		t.Helper()
		var page IndicatorPage
		if code := get(path, &page); code != 200 {
			t.Fatalf("%s: HTTP %d", path, code)
		}
		var out []string
		for _, ind := range page.Indicators {
			out = append(out, ind.Value)
		}
		return out
	}
	for path, want := range map[string]string{
		"/api/v1/indicators?feed=drop":                      "[192.0.2.1 198.51.100.0/24]",
		"/api/v1/indicators?feed=dshield":                   "[192.0.2.2 198.51.100.0/24]",
		"/api/v1/indicators?min_confidence=60":              "[192.0.2.1 198.51.100.0/24]",
		"/api/v1/indicators?min_sources=1&sort=-confidence": "[198.51.100.0/24 192.0.2.1 192.0.2.2]",
		"/api/v1/indicators?min_sources=2":                  "[198.51.100.0/24]",
		"/api/v1/indicators?cidr=198.51.0.0/16&limit=1":     "[198.51.100.0/24]",
		// List feeds predict nothing: a range of predictions holds none.
		"/api/v1/indicators?date=predicted&from=2000-01": "[]",
	} {
		if got := values(path); fmt.Sprint(got) != want {
			t.Errorf("%s: %v, want %s", path, got, want)
		}
	}
	var bad map[string]any
	if code := get("/api/v1/indicators?min_confidence=101", &bad); code != 400 {
		t.Errorf("min_confidence=101: HTTP %d", code)
	}
	var badDate struct {
		Error Error `json:"error"`
	}
	if code := get("/api/v1/indicators?from=03/01/2026", &badDate); code != 400 || badDate.Error.Field != "from" || !strings.Contains(badDate.Error.Message, "2026-03") {
		t.Errorf("from=03/01/2026: HTTP %d, %+v; want 400 naming from and the forms it takes", code, badDate.Error)
	}

	var res LookupResult
	if code := get("/api/v1/lookup?ip=198.51.100.77", &res); code != 200 {
		t.Fatalf("lookup: HTTP %d", code)
	}
	if res.Verdict != "listed" || res.Matched != "198.51.100.0/24" || res.Indicator == nil || res.Indicator.Value != "198.51.100.0/24" ||
		res.Indicator.Type != "CIDR" || res.Indicator.Confidence == nil || *res.Indicator.Confidence != 95 || len(res.Indicator.Feeds) != 2 {
		t.Fatalf("lookup in a network: %+v %+v", res, res.Indicator)
	}
	f := res.Indicator.Feeds[1]
	if f.Feed != "dshield" || f.Source != "Src dshield" || !f.Listed || f.LastSeen == nil || f.FirstSeen != nil {
		t.Errorf("feed listing: %+v", f)
	}
	var one Indicator
	if code := get("/api/v1/indicators/192.0.2.1", &one); code != 200 || len(one.Feeds) != 1 || one.Feeds[0].Feed != "drop" {
		t.Errorf("indicator: %d %+v", code, one)
	}
}
