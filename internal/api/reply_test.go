package api

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"forewarn/internal/apikey"
	"forewarn/internal/indicator"
	"forewarn/internal/store"
	"forewarn/internal/testutil"
)

// unencodableStore is a real store whose lookups return an indicator with
// a time JSON cannot hold (year 10000), as no store path can produce any
// more: it stands for any value a reply fails to encode.
type unencodableStore struct{ *store.Store }

func (unencodableStore) Lookup(context.Context, netip.Addr) (indicator.Indicator, error) {
	far := time.Date(10000, 3, 30, 0, 0, 0, 0, time.UTC)
	return indicator.Indicator{Addr: netip.MustParseAddr("45.33.12.7"), Status: indicator.StatusActive, CreatedAt: far, UpdatedAt: far}, nil
}

// A reply that cannot be encoded is a 500 in the error shape, and the
// cause is logged; before, the status 200 was sent first and the body was
// empty.
func TestUnencodableReplyIsA500(t *testing.T) {
	ctx := context.Background()
	st := testutil.Store(t)
	key, _, err := st.CreateAPIKey(ctx, "siem", apikey.RoleRead)
	if err != nil {
		t.Fatal(err)
	}
	logs := &testutil.Buffer{}
	mux := http.NewServeMux()
	New(Deps{Store: unencodableStore{st}, Log: slog.New(slog.NewTextHandler(logs, nil))}).Register(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	req, _ := http.NewRequest("GET", srv.URL+"/api/v1/indicators/45.33.12.7", nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var body errorBody
	if resp.StatusCode != http.StatusInternalServerError || json.Unmarshal(raw, &body) != nil || body.Error.Code != CodeInternal {
		t.Fatalf("status %d, body %q: want 500 with an internal error", resp.StatusCode, raw)
	}
	if !strings.Contains(logs.String(), "year outside of range") {
		t.Errorf("the cause was not logged: %s", logs)
	}
}
