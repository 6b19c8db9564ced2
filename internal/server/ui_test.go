package server

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

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
	form := url.Values{"dataset": {"A"}, "threshold": {"50"}, "frequency": {"24h"}, "context": {"Importance"}}
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
	if resp := post("/indicators/"+ip+"/status", url.Values{"status": {"Whitelisted"}}); resp.StatusCode != 200 {
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
