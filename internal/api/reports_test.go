package api

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"forewarn/internal/apikey"
	"forewarn/internal/indicator"
	"forewarn/internal/merge"
	"forewarn/internal/service"
	"forewarn/internal/store"
	"forewarn/internal/testutil"
)

// GET /reports/lead-time over HTTP with a read key: two predictions made
// 20 days ago, one of them listed by a list feed today (the feed gives no
// date, so its run is the confirmation): 20 days of lead time. An unknown
// feed and a bad date are 400s naming the field; no key is a 401.
func TestLeadTimeEndpoint(t *testing.T) {
	ctx := context.Background()
	st := testutil.Store(t)
	predicted := time.Now().Add(-20*24*time.Hour - time.Hour).Unix()
	tx, err := st.BeginIngest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var rows []*merge.Stored
	for _, a := range []string{"203.0.113.7", "203.0.113.8"} {
		r := &merge.Stored{Status: indicator.StatusActive, CreatedAt: predicted, UpdatedAt: predicted, ExpiresAt: time.Now().Add(time.Hour).Unix()}
		r.Addr, r.PredictedAt, r.PredictedCategory = netip.MustParseAddr(a), predicted, "scanner"
		r.Has = r.Has.With(merge.PredictedAt).With(merge.PredictedCategory)
		rows = append(rows, r)
	}
	if err := tx.Write(ctx, rows); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if _, err := st.IngestList(ctx, store.ListRun{Feed: "drop", Source: "Spamhaus DROP", Mode: store.ModeSnapshot, Confidence: 90},
		&prefixes{p: []string{"203.0.113.7/32"}}); err != nil {
		t.Fatal(err)
	}
	read, _, err := st.CreateAPIKey(ctx, "reader", apikey.RoleRead)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	New(Deps{Store: st, Service: service.New(service.Deps{Store: st})}).Register(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	get := func(query, key string) (int, []byte) {
		t.Helper()
		req, _ := http.NewRequest("GET", srv.URL+"/api/v1/reports/lead-time"+query, nil)
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, raw
	}
	code, raw := get("", read)
	var rep store.LeadTimeReport
	if err := json.Unmarshal(raw, &rep); err != nil || code != 200 {
		t.Fatalf("%d %s", code, raw)
	}
	if rep.Predicted != 2 || rep.Confirmed != 1 || rep.Within30 != 1 || rep.MedianDays == nil || *rep.MedianDays != 20 ||
		len(rep.ByCategory) != 1 || rep.ByCategory[0].Name != "scanner" || len(rep.ByFeed) != 1 || rep.ByFeed[0].Name != "drop" {
		t.Errorf("report: %s", raw)
	}
	if code, raw := get("?feed=drop&since="+time.Now().Format("2006-01-02"), read); code != 200 || !json.Valid(raw) {
		t.Errorf("?feed=drop&since=today: %d %s", code, raw)
	} else if json.Unmarshal(raw, &rep); rep.Predicted != 0 || rep.ByFeed[0].Predicted != 0 {
		t.Errorf("since today, no prediction counts: %s", raw)
	}
	for q, field := range map[string]string{"?feed=nosuch": "feed", "?since=yesterday": "since"} {
		code, raw := get(q, read)
		var e struct {
			Error struct{ Field string }
		}
		if json.Unmarshal(raw, &e); code != 400 || e.Error.Field != field {
			t.Errorf("%s: %d %s, want 400 naming %s", q, code, raw, field)
		}
	}
	if code, _ := get("", ""); code != 401 {
		t.Errorf("no key: %d, want 401", code)
	}
}
