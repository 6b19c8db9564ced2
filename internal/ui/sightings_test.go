package ui

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"forewarn/internal/apikey"
	"forewarn/internal/indicator"
	"forewarn/internal/lookup"
	"forewarn/internal/merge"
	"forewarn/internal/service"
	"forewarn/internal/store"
	"forewarn/internal/testutil"
)

// The detail page says how often the owner's logs showed an indicator, the
// search marks it, and a sightings key cannot sign in.
func TestSightingsShownAndSightingsKeyRefused(t *testing.T) {
	ctx := context.Background()
	st := testutil.Store(t)
	tx, err := st.BeginIngest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().Unix()
	for _, ip := range []string{"203.0.113.7", "203.0.113.8"} {
		r := &merge.Stored{Status: indicator.StatusActive, CreatedAt: now, UpdatedAt: now}
		r.Addr = netip.MustParseAddr(ip)
		if err := tx.Write(ctx, []*merge.Stored{r}); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	first := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	if _, err := st.RecordSightings(ctx, []store.Sighting{{Addr: netip.MustParseAddr("203.0.113.7"), Count: 2, First: first, Last: first.Add(time.Hour)}}, 0, time.Now()); err != nil {
		t.Fatal(err)
	}
	_, k := testutil.AdminKey(t, st)
	const cookie = "session-cookie-sightings"
	if err := st.CreateUISession(ctx, cookie, store.UISession{KeyID: k.ID, CSRF: "c", Expires: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	u, err := New(Deps{Store: st, Lookup: lookup.NewService(st), Service: service.New(service.Deps{Store: st})})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	u.Register(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	get := func(path string) string {
		t.Helper()
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		req.AddCookie(&http.Cookie{Name: cookieName, Value: cookie})
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: %d %.300s", path, resp.StatusCode, b)
		}
		return string(b)
	}
	if body := get("/indicators/203.0.113.7"); !strings.Contains(body, `<dd id="sightings">2 times, first <time datetime="2026-11-01T10:00:00Z">2026-11-01 10:00:00 UTC</time>, last <time datetime="2026-11-01T11:00:00Z">2026-11-01 11:00:00 UTC</time></dd>`) {
		t.Errorf("the detail page does not show the sightings: %s", body)
	}
	if body := get("/indicators/203.0.113.8"); !strings.Contains(body, `<dd id="sightings">never</dd>`) {
		t.Errorf("the detail page of an unsighted indicator: %s", body)
	}
	if body := get("/indicators?q=203.0.113.0/24"); strings.Count(body, `class="badge sighted"`) != 1 {
		t.Errorf("the search does not mark exactly the sighted indicator: %s", body)
	}

	siem, _, err := st.CreateAPIKey(ctx, "siem", apikey.RoleSightings)
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.PostForm(srv.URL+"/login", url.Values{"key": {siem}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || resp.Header.Get("Set-Cookie") != "" || !strings.Contains(string(b), "can only report sightings") {
		t.Fatalf("sign-in with a sightings key: %d %q %.300s", resp.StatusCode, resp.Header.Get("Set-Cookie"), b)
	}
}
