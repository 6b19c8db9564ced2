package api

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"forewarn/internal/service"
	"forewarn/internal/testutil"
)

// A write while another process holds the store's write lock past the
// request's budget (here 1 s) answers 503 with Retry-After and says the
// store is busy, not SQLite's error or a bare timeout (issue 13 D14).
func TestWriteOnBusyStoreAnswers503(t *testing.T) {
	srv, key := lockedAPI(t)

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

// lockedAPI serves the API with a 1 s budget per request on a SQLite
// store whose write lock a second Store (another process's feed run)
// holds until the test ends, and returns it with an admin key.
func lockedAPI(t *testing.T) (*httptest.Server, string) {
	st, path := testutil.SQLiteStore(t, "the write lock and busy timeout are SQLite's")
	key, _ := testutil.AdminKey(t, st)
	mux := http.NewServeMux()
	New(Deps{Store: st, Service: service.New(service.Deps{Store: st}), DataVersion: func(context.Context) (Version, error) { return Version{Seed: "v"}, nil }}).Register(mux)
	testutil.HoldWriteLock(t, path)
	return testutil.ServeWithBudget(t, mux, time.Second), key
}
