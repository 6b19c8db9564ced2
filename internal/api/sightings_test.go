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
	"forewarn/internal/indicator"
	"forewarn/internal/lookup"
	"forewarn/internal/merge"
	"forewarn/internal/service"
	"forewarn/internal/testutil"
)

// POST /sightings against a real store: a sightings key records (and can
// do nothing else), an admin key may too, a read key may not; the
// indicator then shows its sightings; a batch over 10,000 and a bad
// address are refused naming the field.
func TestSightingsEndpoint(t *testing.T) {
	ctx := context.Background()
	st := testutil.Store(t)
	tx, err := st.BeginIngest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	r := &merge.Stored{Status: indicator.StatusActive, CreatedAt: time.Now().Unix(), UpdatedAt: time.Now().Unix()}
	r.Addr = netip.MustParseAddr("203.0.113.7")
	if err := tx.Write(ctx, []*merge.Stored{r}); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	key := func(name string, role apikey.Role) string {
		k, _, err := st.CreateAPIKey(ctx, name, role)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	siem, read, admin := key("siem", apikey.RoleSightings), key("reader", apikey.RoleRead), key("alice", apikey.RoleAdmin)
	mux := http.NewServeMux()
	New(Deps{Store: st, Lookup: lookup.NewService(st), Service: service.New(service.Deps{Store: st})}).Register(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	do := func(method, path, key, body string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, raw)
		}
		return resp.StatusCode, m
	}
	body := `{"sightings":[{"ip":"203.0.113.7","count":3,"first_seen":"2026-11-01T10:00:00Z","last_seen":"2026-11-02T10:00:00Z"},` +
		`{"ip":"198.51.100.1"}]}`
	if code, m := do("POST", "/api/v1/sightings", siem, body); code != 200 || m["recorded"] != 1.0 || m["unknown"] != 1.0 {
		t.Fatalf("POST with a sightings key: %d %v", code, m)
	}
	if code, m := do("POST", "/api/v1/sightings", admin, `{"sightings":[{"ip":"203.0.113.7","last_seen":"2026-11-03T10:00:00Z"}]}`); code != 200 || m["recorded"] != 1.0 {
		t.Fatalf("POST with an admin key: %d %v", code, m)
	}
	if code, _ := do("POST", "/api/v1/sightings", read, body); code != 403 {
		t.Fatalf("POST with a read key: %d, want 403", code)
	}
	for _, path := range []string{"/api/v1/indicators/203.0.113.7", "/api/v1/lookup?ip=203.0.113.7", "/api/v1/allowlist"} {
		if code, _ := do("GET", path, siem, ""); code != 403 {
			t.Fatalf("GET %s with a sightings key: %d, want 403", path, code)
		}
	}
	code, m := do("GET", "/api/v1/indicators/203.0.113.7", read, "")
	sg, _ := m["sightings"].(map[string]any)
	if code != 200 || sg["count"] != 4.0 || sg["first_seen"] != "2026-11-01T10:00:00Z" || sg["last_seen"] != "2026-11-03T10:00:00Z" {
		t.Fatalf("the indicator's sightings: %d %v", code, m)
	}
	code, m = do("GET", "/api/v1/lookup?ip=203.0.113.7", read, "")
	if ind, _ := m["indicator"].(map[string]any); code != 200 || ind["sightings"] == nil {
		t.Fatalf("lookup shows no sightings: %d %v", code, m)
	}

	var many strings.Builder
	many.WriteString(`{"sightings":[`)
	for i := range service.MaxSightings + 1 {
		if i > 0 {
			many.WriteString(",")
		}
		fmt.Fprintf(&many, `{"ip":"10.0.%d.%d"}`, i/256, i%256)
	}
	many.WriteString("]}")
	for _, tc := range []struct{ body, field string }{
		{many.String(), "sightings"},
		{`{"sightings":[]}`, "sightings"},
		{`{"sightings":[{"ip":"nope"}]}`, "sightings[0].ip"},
		{`{"sightings":[{"ip":"203.0.113.7","first_seen":"2026-11-03T00:00:00Z","last_seen":"2026-11-01T00:00:00Z"}]}`, "sightings[0].first_seen"},
		{`{"sightings":[{"ip":"203.0.113.7","when":"now"}]}`, "when"},
	} {
		code, m := do("POST", "/api/v1/sightings", siem, tc.body)
		e, _ := m["error"].(map[string]any)
		if code != 400 || e["field"] != tc.field {
			t.Errorf("POST %.80s: %d %v, want 400 naming %s", tc.body, code, m, tc.field)
		}
	}
}
