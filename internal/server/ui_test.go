package server

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"forewarn/internal/store"
	"forewarn/internal/ui"
)

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// uiClient signs in to the web UI with key and returns a client holding
// the session cookie, and the session's CSRF token.
func (h *harness) uiClient(key string) (*http.Client, string) {
	h.t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: client.Timeout}
	resp, err := c.PostForm(h.base+"/login", url.Values{"key": {key}, "next": {"/integrations/seclytics"}})
	if err != nil {
		h.t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Request.URL.Path != "/integrations/seclytics" {
		h.t.Fatalf("sign-in: status %d at %s", resp.StatusCode, resp.Request.URL)
	}
	m := csrfRE.FindSubmatch(body)
	if m == nil {
		h.t.Fatal("no CSRF token on the integration page")
	}
	return c, string(m[1])
}

func TestUISecurityHeadersAndSession(t *testing.T) {
	h := startServe(t, "", newFake(t, 100, nil))
	// Unauthenticated pages redirect to the sign-in page, with the CSP.
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noRedirect.Get(h.base + "/indicators")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login") {
		t.Errorf("GET /indicators without a session: %d %s, want a redirect to /login", resp.StatusCode, resp.Header.Get("Location"))
	}
	if got := resp.Header.Get("Content-Security-Policy"); got != ui.CSP || !strings.Contains(got, "script-src 'self'") {
		t.Errorf("Content-Security-Policy = %q, want %q", got, ui.CSP)
	}

	// A wrong key does not sign in.
	resp, err = client.PostForm(h.base+"/login", url.Values{"key": {"fwk_wrong"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("sign-in with a wrong key: %d, want 401", resp.StatusCode)
	}

	// The session cookie is HttpOnly, SameSite=Strict and holds no key.
	resp, err = noRedirect.PostForm(h.base+"/login", url.Values{"key": {h.admin}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	sc := resp.Header.Get("Set-Cookie")
	if !strings.Contains(sc, "HttpOnly") || !strings.Contains(sc, "SameSite=Strict") || strings.Contains(sc, h.admin) {
		t.Errorf("session cookie %q: want HttpOnly, SameSite=Strict and no API key", sc)
	}

	admin, csrf := h.uiClient(h.admin)
	form := url.Values{"dataset": {"A"}, "threshold": {"50"}, "frequency": {"24h"}, "context": {"Importance"}, "token": {testToken}}
	// Without the CSRF token a change is refused.
	resp, err = admin.PostForm(h.base+"/integrations/seclytics/config", form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("save without a CSRF token: %d, want 403", resp.StatusCode)
	}
	form.Set("csrf", csrf)
	resp, err = admin.PostForm(h.base+"/integrations/seclytics/config", form)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "Configuration saved.") {
		t.Errorf("save with an admin session: %d, want the saved notice", resp.StatusCode)
	}

	// A read key sees the page but cannot change anything.
	r := h.must(201, "POST", "/api/v1/apikeys", h.admin, map[string]any{"name": "ro", "role": "read"})
	roKey, _ := r.body["key"].(string)
	ro, roCSRF := h.uiClient(roKey)
	form.Set("csrf", roCSRF)
	for _, path := range []string{"/integrations/seclytics/config", "/integrations/seclytics/enable", "/integrations/seclytics/run"} {
		resp, err = ro.PostForm(h.base+path, form)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("POST %s with a read session: %d, want 403", path, resp.StatusCode)
		}
	}
	cfg := h.must(200, "GET", "/api/v1/feeds/seclytics", h.admin, nil).body["config"].(map[string]any)
	if cfg["threshold"] != 50.0 {
		t.Errorf("threshold = %v after the read key's attempt, want 50", cfg["threshold"])
	}

	// Revoking the key ends its sessions.
	h.must(200, "DELETE", "/api/v1/apikeys/ro", h.admin, nil)
	resp, err = ro.Get(h.base + "/integrations/seclytics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Request.URL.Path != "/login" {
		t.Errorf("after the key was revoked its session reached %s, want the sign-in page", resp.Request.URL.Path)
	}
}

func TestUIStatusAndUninstall(t *testing.T) {
	h := startServe(t, "", newFake(t, 300, nil))
	h.configure(nil)
	id := h.must(202, "POST", "/api/v1/feeds/seclytics/runs", h.admin, nil).body["run_id"].(float64)
	h.waitRun(id)
	ip := h.must(200, "GET", "/api/v1/indicators?limit=1", h.admin, nil).body["indicators"].([]any)[0].(map[string]any)["value"].(string)
	c, csrf := h.uiClient(h.admin)
	post := func(path string, form url.Values) *http.Response {
		t.Helper()
		form.Set("csrf", csrf)
		resp, err := c.PostForm(h.base+path, form)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}

	// An admin sets a status from the detail page; the API sees it.
	if resp := post("/indicators/"+ip+"/status", url.Values{"status": {"Whitelisted"}, "reason": {"our relay"}}); resp.StatusCode != 200 {
		t.Fatalf("set status: %d", resp.StatusCode)
	}
	if got := h.must(200, "GET", "/api/v1/indicators/"+ip, h.admin, nil).body["status"]; got != "Whitelisted" {
		t.Errorf("status after the UI set it: %v, want Whitelisted", got)
	}

	// Uninstall needs the confirmation box.
	if resp := post("/integrations/seclytics/uninstall", url.Values{"purge": {"on"}}); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("uninstall without confirmation: %d, want 400", resp.StatusCode)
	}
	if resp := post("/integrations/seclytics/uninstall", url.Values{"purge": {"on"}, "confirm": {"on"}}); resp.StatusCode != 200 {
		t.Fatalf("uninstall: %d", resp.StatusCode)
	}
	f := h.must(200, "GET", "/api/v1/feeds/seclytics", h.admin, nil).body
	if f["installed"] != false || f["indicators"] != 0.0 {
		t.Errorf("after Uninstall with purge: installed %v, %v indicators; want false, 0", f["installed"], f["indicators"])
	}
}

func TestUIActivityLogShowsDryRunImportanceCounts(t *testing.T) {
	h := startServe(t, "", newFake(t, 300, nil))
	h.configure(nil)
	id := h.must(202, "POST", "/api/v1/feeds/seclytics/runs", h.admin, map[string]any{"dry_run": true}).body["run_id"].(float64)
	run := h.waitRun(id)
	by, _ := run["kept_by_importance"].(map[string]any)
	var sum float64
	for _, k := range []string{"high", "medium", "low", "none"} {
		sum += by[k].(float64)
	}
	if run["dry_run"] != true || sum == 0 || sum != run["rows_kept"] {
		t.Fatalf("dry run: kept_by_importance %v sums to %v, rows_kept %v", by, sum, run["rows_kept"])
	}
	c, _ := h.uiClient(h.admin)
	resp, err := c.Get(h.base + "/integrations/seclytics/activity")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	want := fmt.Sprintf("%v high, %v medium, %v low, %v without importance", by["high"], by["medium"], by["low"], by["none"])
	if !strings.Contains(string(body), want) {
		t.Errorf("the activity log does not show the dry run's counts %q", want)
	}
}

func TestUIShowsStatusAndExpiry(t *testing.T) {
	for _, tc := range []struct {
		ageOut string
		status string
		expiry bool
	}{
		// The fake dump's dates are years old: with an age_out they have
		// already expired.
		{"2160h", "Expired", true},
		{"never", "Active", false},
	} {
		t.Run(tc.ageOut, func(t *testing.T) {
			h := startServe(t, "", newFake(t, 50, nil))
			h.configure(map[string]any{"age_out": tc.ageOut})
			id := h.must(202, "POST", "/api/v1/feeds/seclytics/runs", h.admin, nil).body["run_id"].(float64)
			h.waitRun(id)
			ind := h.must(200, "GET", "/api/v1/indicators?limit=1&sort=value", h.admin, nil).body["indicators"].([]any)[0].(map[string]any)
			ip := ind["value"].(string)
			want := "never"
			if tc.expiry {
				exp, err := time.Parse(time.RFC3339, ind["expires_at"].(string))
				if err != nil {
					t.Fatalf("expires_at %v: %v", ind["expires_at"], err)
				}
				// One timestamp style, UTC, in a <time> the browser
				// may show in local time.
				want = `<time datetime="` + exp.UTC().Format(time.RFC3339) + `">` + exp.UTC().Format(ui.TimeLayout) + `</time>`
			}
			if ind["status"] != tc.status {
				t.Fatalf("status %v, want %s", ind["status"], tc.status)
			}
			c, _ := h.uiClient(h.admin)
			get := func(path string) string {
				t.Helper()
				resp, err := c.Get(h.base + path)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				b, _ := io.ReadAll(resp.Body)
				return string(b)
			}
			row := regexp.MustCompile(`(?s)<tr>\s*(<td><input[^>]*></td>\s*)?<td><a href="/indicators/` + regexp.QuoteMeta(ip) + `">.*?</tr>`).FindString(get("/indicators?sort=value&status=" + tc.status))
			if !strings.Contains(row, `badge `+tc.status) || !strings.Contains(row, `<td class="expires">`+want+`</td>`) {
				t.Errorf("search result row for %s lacks status %s and expiry %s: %s", ip, tc.status, want, row)
			}
			if page := get("/indicators/" + ip); !strings.Contains(page, `id="ind-status">`+tc.status) || !strings.Contains(page, "<dt>Expires</dt><dd>"+want+"</dd>") {
				t.Errorf("detail page of %s lacks status %s and expiry %s", ip, tc.status, want)
			}
		})
	}
}

func TestUIAllowlist(t *testing.T) {
	h := startServe(t, "", newFake(t, 300, nil))
	h.configure(map[string]any{"age_out": "never"})
	id := h.must(202, "POST", "/api/v1/feeds/seclytics/runs", h.admin, nil).body["run_id"].(float64)
	h.waitRun(id)
	ip := h.must(200, "GET", "/api/v1/indicators?limit=1&status=Active", h.admin, nil).body["indicators"].([]any)[0].(map[string]any)["value"].(string)

	aliceKey, _ := h.must(201, "POST", "/api/v1/apikeys", h.admin, map[string]any{"name": "alice", "role": "admin"}).body["key"].(string)
	alice, csrf := h.uiClient(aliceKey)
	send := func(c *http.Client, path string, form url.Values) (int, string) {
		t.Helper()
		resp, err := c.PostForm(h.base+path, form)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	page := func(c *http.Client) string {
		t.Helper()
		resp, err := c.Get(h.base + "/allowlist")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("GET /allowlist: %d", resp.StatusCode)
		}
		return string(b)
	}

	// The page lists the built-in ranges, on by default, and links from the nav.
	if p := page(alice); !strings.Contains(p, `href="/allowlist" aria-current="page"`) || !strings.Contains(p, `<code>10.0.0.0/8</code>`) ||
		!strings.Contains(p, `<span id="special-state">on</span>`) || !strings.Contains(p, "No entries yet.") {
		t.Errorf("allow-list page lacks the nav link, the built-in ranges or their state:\n%s", p)
	}

	// Without the CSRF token nothing is added.
	if code, _ := send(alice, "/allowlist", url.Values{"cidr": {ip}}); code != http.StatusForbidden {
		t.Errorf("add without a CSRF token: %d, want 403", code)
	}

	// A bad CIDR is shown next to the field, with what was typed.
	code, body := send(alice, "/allowlist", url.Values{"csrf": {csrf}, "cidr": {"192.0.2.0/33"}, "comment": {"typo"}})
	if code != http.StatusBadRequest || !strings.Contains(body, `id="cidr-error">&#34;192.0.2.0/33&#34; is neither`) ||
		!strings.Contains(body, `value="192.0.2.0/33"`) || !strings.Contains(body, `value="typo"`) {
		t.Errorf("add a bad CIDR: %d, want 400 with the error next to the field and the typed values:\n%s", code, body)
	}

	// An admin adds the stored indicator's address: it is whitelisted.
	code, body = send(alice, "/allowlist", url.Values{"csrf": {csrf}, "cidr": {ip}, "comment": {"our mail relay"}})
	if code != 200 || !strings.Contains(body, "Added "+ip+"/32 to the allow-list: 1 existing indicator whitelisted.") {
		t.Fatalf("add %s: %d, want the notice with 1 whitelisted:\n%s", ip, code, body)
	}
	if !regexp.MustCompile(`<code>` + regexp.QuoteMeta(ip) + `/32</code></td><td>our mail relay</td><td>alice</td><td><time datetime="\d{4}-`).MatchString(body) {
		t.Errorf("the new entry is not listed with its comment, added by alice and added at:\n%s", body)
	}
	if got := h.must(200, "GET", "/api/v1/indicators/"+ip, h.admin, nil).body["status"]; got != "Whitelisted" {
		t.Errorf("status of %s after the UI allow-listed it: %v, want Whitelisted", ip, got)
	}

	// A duplicate is refused next to the field.
	code, body = send(alice, "/allowlist", url.Values{"csrf": {csrf}, "cidr": {ip}, "comment": {"again"}})
	if code != http.StatusConflict || !strings.Contains(body, "is already on the allow-list") || !strings.Contains(body, `value="again"`) {
		t.Errorf("add a duplicate: %d, want 409 with the error and the typed values:\n%s", code, body)
	}

	// A read key sees the list but no controls, and cannot change it.
	r := h.must(201, "POST", "/api/v1/apikeys", h.admin, map[string]any{"name": "ro", "role": "read"})
	ro, roCSRF := h.uiClient(r.body["key"].(string))
	if p := page(ro); !strings.Contains(p, "our mail relay") || strings.Contains(p, `action="/allowlist"`) || strings.Contains(p, `action="/allowlist/remove"`) {
		t.Errorf("a read key's allow-list page: want the entry and no forms:\n%s", p)
	}
	for _, path := range []string{"/allowlist", "/allowlist/remove"} {
		if code, _ := send(ro, path, url.Values{"csrf": {roCSRF}, "cidr": {"203.0.113.9"}}); code != http.StatusForbidden {
			t.Errorf("POST %s with a read session: %d, want 403", path, code)
		}
	}
	if code, _ := send(ro, "/allowlist/remove", url.Values{"csrf": {roCSRF}, "cidr": {ip}}); code != http.StatusForbidden {
		t.Errorf("remove with a read session: %d, want 403", code)
	}

	// Removing needs the CSRF token, then takes the entry off.
	if code, _ := send(alice, "/allowlist/remove", url.Values{"cidr": {ip}}); code != http.StatusForbidden {
		t.Errorf("remove without a CSRF token: %d, want 403", code)
	}
	code, body = send(alice, "/allowlist/remove", url.Values{"csrf": {csrf}, "cidr": {ip + "/32"}})
	if code != 200 || !strings.Contains(body, "Removed "+ip+"/32 from the allow-list") || strings.Contains(body, "our mail relay") {
		t.Errorf("remove: %d, want the notice and the entry gone:\n%s", code, body)
	}
	for _, e := range h.must(200, "GET", "/api/v1/allowlist", h.admin, nil).body["entries"].([]any) {
		if e := e.(map[string]any); e["built_in"] != true {
			t.Errorf("the API still lists %v after the removal", e["cidr"])
		}
	}
}

// TestUIDashboardSavedAcrossRestarts: the dashboard's aggregates are saved
// in the store with the data version they were computed at, so a restarted
// serve shows them without recomputing (at millions of indicators that takes
// tens of seconds), and recomputes once the indicators changed.
func TestUIDashboardSavedAcrossRestarts(t *testing.T) {
	ctx := context.Background()
	fake := newFake(t, 300, nil)
	h := startServe(t, "", fake)
	h.configure(nil)
	h.waitRun(h.must(202, "POST", "/api/v1/feeds/seclytics/runs", h.admin, nil).body["run_id"].(float64))
	dashboard := func(h *harness) string {
		t.Helper()
		c, _ := h.uiClient(h.admin)
		for range 100 {
			resp, err := c.Get(h.base + "/")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if !strings.Contains(string(body), `id="computing"`) && !strings.Contains(string(body), "refreshing") {
				return string(body)
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Fatal("the dashboard's aggregates were never computed")
		return ""
	}
	dashboard(h)
	if err := h.stop(); err != nil {
		t.Fatal(err)
	}

	// Mark the saved aggregates, at the same data version: a restarted
	// serve that shows the mark read them instead of recomputing.
	st, err := store.Open(ctx, h.db)
	if err != nil {
		t.Fatal(err)
	}
	d, v, ok, err := st.SavedDashboard(ctx)
	if err != nil || !ok {
		t.Fatalf("no saved dashboard after serve computed one (err %v)", err)
	}
	if cur, err := st.DataVersion(ctx); err != nil || cur != v {
		t.Fatalf("saved at version %+v, the store is at %+v (%v)", v, cur, err)
	}
	const mark = 987654
	d.Bands["High"] = mark
	if err := st.SaveDashboard(ctx, v, d); err != nil {
		t.Fatal(err)
	}
	st.Close()

	h2 := startServe(t, h.db, fake)
	h2.admin = h.admin
	if body := dashboard(h2); !strings.Contains(body, strconv.Itoa(mark)) {
		t.Errorf("the restarted dashboard does not show the saved aggregates")
	}
	// A run that changes indicators makes serve recompute (and save) them.
	fake.SetBody("a", gz(t, lookupDump))
	h2.waitRun(h2.must(202, "POST", "/api/v1/feeds/seclytics/runs", h2.admin, nil).body["run_id"].(float64))
	for i := 0; ; i++ {
		if body := dashboard(h2); !strings.Contains(body, strconv.Itoa(mark)) {
			break
		}
		if i == 100 {
			t.Fatal("the dashboard still shows the old aggregates after a run changed the indicators")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestUISignInThrottled: a key that fails MaxFailedSignIns times is refused
// for the rest of the window, without locking out other keys from the same
// address (a proxy's users); MaxFailedSignInsPerAddress different wrong
// keys close the address (issue 13 D14).
func TestUISignInThrottled(t *testing.T) {
	h := startServe(t, "", newFake(t, 10, nil))
	post := func(key string) (*http.Response, string) {
		t.Helper()
		resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).
			PostForm(h.base+"/login", url.Values{"key": {key}})
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp, string(body)
	}
	// A right key signs in; it does not count.
	if resp, _ := post(h.admin); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in with the admin key: %d", resp.StatusCode)
	}
	for i := range ui.MaxFailedSignIns {
		if resp, _ := post("fwk_stale"); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("wrong key, try %d: %d, want 401", i, resp.StatusCode)
		}
	}
	resp, body := post("fwk_stale")
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" || !strings.Contains(body, "with this key") {
		t.Errorf("the same wrong key %d times: %d, Retry-After %q; want 429 with Retry-After and the reason", ui.MaxFailedSignIns+1, resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if resp, _ := post(h.admin); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("another key from the same address after one key was throttled: %d, want 303", resp.StatusCode)
	}
	for i := ui.MaxFailedSignIns; i < ui.MaxFailedSignInsPerAddress; i++ {
		if resp, _ := post(fmt.Sprintf("fwk_wrong%d", i)); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("wrong key %d: %d, want 401", i, resp.StatusCode)
		}
	}
	resp, body = post(h.admin)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" || !strings.Contains(body, "from your address") {
		t.Errorf("after %d wrong keys from one address: %d, Retry-After %q; want 429 with Retry-After and the reason", ui.MaxFailedSignInsPerAddress, resp.StatusCode, resp.Header.Get("Retry-After"))
	}
}
