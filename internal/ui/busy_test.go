package ui

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"forewarn/internal/service"
	"forewarn/internal/store"
	"forewarn/internal/testutil"
)

// When another process holds the store's write lock for longer than the
// request's budget (here 1 s instead of 30 s), sign-in answers 503 with
// Retry-After and says the store is busy; it never shows SQLite's error
// (issue 13 D14).
func TestSignInBusyStoreAnswers503(t *testing.T) {
	st, path := testutil.SQLiteStore(t, "the write lock and busy timeout are SQLite's")
	key, _ := testutil.AdminKey(t, st)
	srv := lockedUI(t, st, path)

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

// lockedUI serves the UI on st with a 1 s budget per request, while a
// second Store on the same file (another process's feed run) holds the
// write lock until the test ends.
func lockedUI(t *testing.T, st *store.Store, path string) *httptest.Server {
	t.Helper()
	u, err := New(Deps{Store: st, Service: service.New(service.Deps{Store: st})})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	u.Register(mux)
	srv := testutil.ServeWithBudget(t, mux, time.Second)
	testutil.HoldWriteLock(t, path)
	return srv
}

// A change by a signed-in admin (here an allow-list entry) on a store
// locked past the budget answers 503 with Retry-After, not a 500 with
// the store's error.
func TestUIChangeOnBusyStoreAnswers503(t *testing.T) {
	ctx := context.Background()
	st, path := testutil.SQLiteStore(t, "the write lock and busy timeout are SQLite's")
	_, k := testutil.AdminKey(t, st)
	const cookie, csrf = "session-cookie-busy", "csrf-busy"
	if err := st.CreateUISession(ctx, cookie, store.UISession{KeyID: k.ID, CSRF: csrf, Expires: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	srv := lockedUI(t, st, path)
	req, _ := http.NewRequest("POST", srv.URL+"/allowlist", strings.NewReader(url.Values{"cidr": {"192.0.2.0/24"}, "csrf": {csrf}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(&http.Cookie{Name: cookieName, Value: cookie})
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Errorf("an allow-list change on a locked store: status %d, Retry-After %q; want 503 with Retry-After: %.300s",
			resp.StatusCode, resp.Header.Get("Retry-After"), b)
	}
	if body := string(b); !strings.Contains(body, "busy") || strings.Contains(body, "deadline") || strings.Contains(body, "SQLITE") {
		t.Errorf("the answer does not say the store is busy, or shows the store's error: %.300s", body)
	}
}
