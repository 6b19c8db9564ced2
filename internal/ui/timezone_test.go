package ui

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"forewarn/internal/apikey"
	"forewarn/internal/store"
	"forewarn/internal/testutil"
)

// A key's choice of time zone is stored with the key: its pages write
// every time in that zone and name it; another key's stay in UTC. A zone
// the server does not know is refused in words, and times stay in UTC.
func TestTimeZonePerKey(t *testing.T) {
	ctx := context.Background()
	st := testutil.Store(t)
	writeActive(t, st, 1)
	u, admin := uiServerUI(t, st, Deps{Log: slog.New(slog.DiscardHandler)})
	_, bob, err := st.CreateAPIKey(ctx, "bob", apikey.RoleRead)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CreateUISession(ctx, "bob-cookie", store.UISession{KeyID: bob.ID, CSRF: "b", Expires: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	u.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	as := func(cookie, method, path string, form url.Values) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.AddCookie(&http.Cookie{Name: cookieName, Value: cookie})
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	search := "/indicators?status="
	if body := admin(search, nil); !strings.Contains(body, `Times in <span id="tz-label">UTC</span>`) || !strings.Contains(body, " UTC</time>") {
		t.Fatalf("by default, times are not in UTC with UTC named: %s", body)
	}
	admin("/preferences/time-zone", url.Values{"zone": {"Asia/Tokyo"}})
	body := admin(search, nil)
	if !strings.Contains(body, `Times in <span id="tz-label">Asia/Tokyo</span>`) || !strings.Contains(body, " JST</time>") || strings.Contains(body, " UTC</time>") {
		t.Errorf("after choosing Asia/Tokyo, the page does not write its times in JST and name the zone: %s", body)
	}
	if _, body := as("bob-cookie", "GET", search, nil); !strings.Contains(body, `Times in <span id="tz-label">UTC</span>`) || strings.Contains(body, " JST</time>") {
		t.Errorf("another key's page is not in UTC: %s", body)
	}
	// A read key may choose its own zone (no admin role needed), with
	// its CSRF token only.
	if code, _ := as("bob-cookie", "POST", "/preferences/time-zone", url.Values{"zone": {"Europe/Paris"}}); code != http.StatusForbidden {
		t.Errorf("a time zone without the CSRF token: HTTP %d, want 403", code)
	}
	code, body := as("bob-cookie", "POST", "/preferences/time-zone", url.Values{"zone": {"Mars/Olympus"}, "csrf": {"b"}})
	if code != http.StatusBadRequest || !strings.Contains(body, "Mars/Olympus") || !strings.Contains(body, "times stay in UTC") {
		t.Errorf("an unknown zone: HTTP %d, %s", code, body)
	}
	if code, body := as("bob-cookie", "POST", "/preferences/time-zone", url.Values{"zone": {"Europe/Paris"}, "csrf": {"b"}}); code != http.StatusOK || !strings.Contains(body, `Times in <span id="tz-label">Europe/Paris</span>`) {
		t.Errorf("a read key choosing Europe/Paris: HTTP %d, %s", code, body)
	}
	// The choice is audited as the key's.
	es, err := st.SearchAudit(ctx, store.AuditQuery{})
	if err != nil {
		t.Fatal(err)
	}
	var seen []string
	for _, e := range es {
		if e.Action == "key.time_zone" {
			seen = append(seen, e.Actor+"="+e.Detail)
		}
	}
	if got := strings.Join(seen, " "); !strings.Contains(got, "bob=Europe/Paris") {
		t.Errorf("audit of time zone choices: %q", got)
	}
}

// The confirmed headline's link opens a search that counts the same
// indicators.
func TestConfirmedHeadlineLink(t *testing.T) {
	ctx := context.Background()
	st := testutil.Store(t)
	writeActive(t, st, 3)
	u, req := uiServerUI(t, st, Deps{Log: slog.New(slog.DiscardHandler)})
	run := store.ListRun{Feed: "blocklist", Source: "Blocklist", Mode: store.ModeSnapshot, Confidence: 50, Now: time.Now()}
	if _, err := st.IngestList(ctx, run, &oneList{[]string{"198.18.0.1", "198.18.0.3", "203.0.113.9"}}); err != nil {
		t.Fatal(err)
	}
	u.recomputeRanges(ctx, "all")
	body := req("/", nil)
	i := strings.Index(body, `id="headline-confirmed"`)
	j := strings.LastIndex(body[:max(i, 0)], `href="`)
	if i < 0 || j < 0 {
		t.Fatalf("no confirmed headline link: %s", body)
	}
	href := strings.ReplaceAll(body[j+len(`href="`):strings.Index(body[j+len(`href="`):], `"`)+j+len(`href="`)], "&amp;", "&")
	if got := req(href, nil); !strings.Contains(got, "2 indicators match") || !strings.Contains(got, "Listed by at least: <strong>2 feeds</strong>") {
		t.Errorf("the confirmed headline's search %s does not count the 2 confirmed indicators with its chip: %s", href, got)
	}
}
