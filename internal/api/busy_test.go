package api

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"forewarn/internal/apikey"
	"forewarn/internal/service"
	"forewarn/internal/store"
	"forewarn/internal/testutil"
	"forewarn/internal/testutil/pgtest"
)

// A write while another process holds the store's write lock past the
// request's budget (here 1 s) answers 503 with Retry-After and says the
// store is busy, not SQLite's error or a bare timeout (issue 13 D14).
func TestWriteOnBusyStoreAnswers503(t *testing.T) {
	pgtest.SkipUnlessSQLite(t, "the write lock and busy timeout are SQLite's")
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "s.db")
	st, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	key, _, err := st.CreateAPIKey(ctx, "ops", apikey.RoleAdmin)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	New(Deps{Store: st, Service: service.New(service.Deps{Store: st}), DataVersion: func(context.Context) (Version, error) { return Version{Seed: "v"}, nil }}).Register(mux)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), time.Second)
		defer cancel()
		mux.ServeHTTP(w, r.WithContext(ctx))
	}))
	defer srv.Close()

	testutil.HoldWriteLock(t, path)

	req, _ := http.NewRequest("POST", srv.URL+"/api/v1/allowlist", strings.NewReader(`{"cidr":"192.0.2.0/24"}`))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var body errorBody
	if err := json.Unmarshal(raw, &body); err != nil {
		t.Fatalf("not a JSON error: %q", raw)
	}
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || body.Error.Code != CodeUnavailable {
		t.Errorf("a write on a locked store: status %d, Retry-After %q, code %q; want 503, Retry-After, %q",
			resp.StatusCode, resp.Header.Get("Retry-After"), body.Error.Code, CodeUnavailable)
	}
	if !strings.Contains(body.Error.Message, "busy") || strings.Contains(string(raw), "SQLITE") {
		t.Errorf("message %q does not say the store is busy, or shows SQLite's error", body.Error.Message)
	}
}
