package api

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"forewarn/internal/apikey"
	"forewarn/internal/store"
	"forewarn/internal/testutil"
)

// deadlineSpy is the real store, noting whether the key check ran under a
// deadline.
type deadlineSpy struct {
	*store.Store
	mu   sync.Mutex
	left []time.Duration // time left at each key check; <0: no deadline
}

func (s *deadlineSpy) AuthenticateAPIKey(ctx context.Context, key string) (store.APIKey, error) {
	left := time.Duration(-1)
	if d, ok := ctx.Deadline(); ok {
		left = time.Until(d)
	}
	s.mu.Lock()
	s.left = append(s.left, left)
	s.mu.Unlock()
	return s.Store.AuthenticateAPIKey(ctx, key)
}

// The request budget covers the key check: a key check waiting for a busy
// store gives up with the request instead of hanging it (it ran with no
// deadline at all).
func TestRequestBudgetStartsBeforeAuthentication(t *testing.T) {
	st := testutil.Store(t)
	key, _, err := st.CreateAPIKey(context.Background(), "fw", apikey.RoleRead)
	if err != nil {
		t.Fatal(err)
	}
	spy := &deadlineSpy{Store: st}
	mux := http.NewServeMux()
	New(Deps{Store: spy, DataVersion: func(context.Context) (Version, error) { return Version{Seed: "v"}, nil }}).Register(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	for _, tc := range []struct {
		path   string
		budget time.Duration
	}{
		{"/api/v1/allowlist", RequestTimeout},
		{"/api/v1/nope", RequestTimeout},
		{"/api/v1/export/suricata-categories", ExportTimeout},
	} {
		spy.left = nil
		req, _ := http.NewRequest("GET", srv.URL+tc.path, nil)
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if len(spy.left) != 1 {
			t.Fatalf("GET %s: %d key checks, want 1", tc.path, len(spy.left))
		}
		if left := spy.left[0]; left < 0 || left > tc.budget || left < tc.budget-10*time.Second {
			t.Errorf("GET %s: the key check ran with %v left (negative: no deadline), want about %s", tc.path, left, tc.budget)
		}
	}
}
