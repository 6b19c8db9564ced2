package ui

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"forewarn/internal/apikey"
	"forewarn/internal/store"
	"forewarn/internal/testutil/pgtest"
)

// When another process holds the store's write lock for longer than the
// request's budget (here 1 s instead of 30 s), sign-in answers 503 with
// Retry-After and says the store is busy; it never shows SQLite's error
// (issue 13 D14).
func TestSignInBusyStoreAnswers503(t *testing.T) {
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
	u, err := New(Deps{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	u.Register(mux)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), time.Second)
		defer cancel()
		mux.ServeHTTP(w, r.WithContext(ctx))
	}))
	defer srv.Close()

	other, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	tx, err := other.BeginIngest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()

	c := &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.PostForm(srv.URL+"/login", url.Values{"key": {key}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	body := string(b)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Errorf("sign-in while the store is locked past the budget: status %d, Retry-After %q; want 503 with Retry-After",
			resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if !strings.Contains(body, "busy") || !strings.Contains(body, "Try again in a minute") {
		t.Errorf("the page does not say the store is busy and to try again: %.500s", body)
	}
	for _, raw := range []string{"SQLITE", "database is locked", "deadline exceeded"} {
		if strings.Contains(body, raw) {
			t.Errorf("the page shows %q: %.500s", raw, body)
		}
	}
	if resp.Header.Get("Set-Cookie") != "" {
		t.Error("a sign-in that failed set a cookie")
	}
}
