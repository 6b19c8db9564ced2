package taxii_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"forewarn/internal/apikey"
	"forewarn/internal/config"
	"forewarn/internal/fakeseclytics"
	"forewarn/internal/feed"
	"forewarn/internal/indicator"
	"forewarn/internal/secret"
	"forewarn/internal/stix"
	"forewarn/internal/store"
	"forewarn/internal/taxii"
	"forewarn/internal/testutil"
)

const testToken = "tok-TAXII-0a1b2c3d4e"

// counting is the real store, counting the indicator pages TAXII reads.
type counting struct {
	*store.Store
	pages atomic.Int64
}

func (c *counting) SearchIndicators(ctx context.Context, q store.IndicatorQuery) (store.IndicatorPage, error) {
	c.pages.Add(1)
	return c.Store.SearchIndicators(ctx, q)
}

// TestObjectLookupsReadNoIndicatorPages: objects/{id}/ resolves an id
// without paging through the collection's indicators, and match[type] that
// no indicator object can have answers without reading them (issue 13 D14).
func TestObjectLookupsReadNoIndicatorPages(t *testing.T) {
	const rows = 20000
	st, key := ingested(t, rows, 4)
	cs := &counting{Store: st}
	mux := http.NewServeMux()
	taxii.New(cs, taxii.STIXMapper{}, nil).Register(mux)
	hs := httptest.NewServer(mux)
	t.Cleanup(hs.Close)
	get := func(path string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest("GET", hs.URL+path, nil)
		req.SetBasicAuth("x", key)
		resp, err := hs.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		var body map[string]any
		_ = json.Unmarshal(raw, &body)
		return resp.StatusCode, body
	}
	coll := taxii.APIRoot + "collections/" + taxii.Collections[1].ID + "/"

	// The last address in update order is the worst case for a scan.
	pg, err := st.SearchIndicators(context.Background(), store.IndicatorQuery{Sort: "-updated", Limit: 1})
	if err != nil || len(pg.Indicators) != 1 {
		t.Fatalf("pick an indicator: %v", err)
	}
	v := pg.Indicators[0].Addr.String()
	scoType := "ipv4-addr"
	if pg.Indicators[0].Type == indicator.TypeIPv6 {
		scoType = "ipv6-addr"
	}
	cs.pages.Store(0)
	for _, id := range []string{stix.IndicatorID(v, 0), stix.ObservableID(scoType, v), stix.RelationshipID(v, 0), stix.SeclyticsIdentityID} {
		start := time.Now()
		code, body := get(coll + "objects/" + id + "/")
		objs, _ := body["objects"].([]any)
		if code != 200 || len(objs) != 1 || objs[0].(map[string]any)["id"] != id {
			t.Fatalf("objects/%s/: %d %v", id, code, body)
		}
		t.Logf("objects/%s/ in %v at %d indicators", id, time.Since(start), rows)
	}
	for _, id := range []string{"indicator--00000000-0000-5000-8000-000000000000", "malware--" + stix.IndicatorID(v, 0)[len("indicator--"):], "nonsense"} {
		if code, _ := get(coll + "objects/" + id + "/"); code != 404 {
			t.Errorf("objects/%s/: %d, want 404", id, code)
		}
	}
	code, body := get(coll + "objects/?match[type]=malware,attack-pattern")
	if objs, _ := body["objects"].([]any); code != 200 || len(objs) != 0 || body["more"] != false {
		t.Errorf("match[type] no object has: %d %v, want an empty page", code, body)
	}
	code, body = get(coll + "objects/?match[type]=identity")
	if objs, _ := body["objects"].([]any); code != 200 || len(objs) != 2 {
		t.Errorf("match[type]=identity: %d %d objects, want the 2 identities", code, len(objs))
	}
	if n := cs.pages.Load(); n != 0 {
		t.Errorf("the lookups read %d pages of indicators, want none", n)
	}
	// The ordinary poll still pages through them.
	if code, body := get(coll + "objects/?match[type]=indicator&limit=5"); code != 200 || body["more"] != true || cs.pages.Load() == 0 {
		t.Errorf("match[type]=indicator: %d more=%v after %d pages, want a first page of indicators", code, body["more"], cs.pages.Load())
	}
}

// ingested returns a store holding every row of a generated dump of rows
// rows (seed seed), kept whatever their importance and age, and a read key.
func ingested(t *testing.T, rows int, seed int64) (*store.Store, string) {
	t.Helper()
	_, url := testutil.Seclytics(t, fakeseclytics.Options{Rows: rows, Seed: seed, Token: testToken})
	st := testutil.Store(t)
	if _, err := feed.Run(context.Background(), st, feed.Options{
		Token: secret.New(testToken), BackoffBase: time.Millisecond, StageDir: t.TempDir(), Logger: slog.New(slog.DiscardHandler),
		Override: config.Settings("base_url="+url, "threshold=0", "categories=", "age_out=never"),
	}); err != nil {
		t.Fatal(err)
	}
	key, _, err := st.CreateAPIKey(context.Background(), "r", apikey.RoleRead)
	if err != nil {
		t.Fatal(err)
	}
	return st, key
}
