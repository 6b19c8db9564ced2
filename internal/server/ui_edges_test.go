package server

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// postLogin posts the sign-in form with extra headers and does not follow
// the redirect.
func (h *harness) postLogin(form url.Values, hdr map[string]string) *http.Response {
	h.t.Helper()
	req, err := http.NewRequest("POST", h.base+"/login", strings.NewReader(form.Encode()))
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	c := &http.Client{Timeout: client.Timeout, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// TestUISignInRedirectStaysOnSite: a hostile next parameter never becomes a
// Location that leaves the site (issue 13 D12).
func TestUISignInRedirectStaysOnSite(t *testing.T) {
	h := startServe(t, "", newFake(t, 10, nil))
	for _, next := range []string{"/\t/evil.example", "/\n/evil.example", "/\\/evil.example", "//evil.example", "/%09/evil.example"} {
		resp := h.postLogin(url.Values{"key": {h.admin}, "next": {next}}, nil)
		if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || loc != "/" {
			t.Errorf("next=%q: %d Location %q, want 303 to /", next, resp.StatusCode, loc)
		}
	}
	resp := h.postLogin(url.Values{"key": {h.admin}, "next": {"/indicators?q=1.2.3.4"}}, nil)
	if loc := resp.Header.Get("Location"); loc != "/indicators?q=1.2.3.4" {
		t.Errorf("a same-site next: Location %q, want it kept", loc)
	}
}

// TestUISignInRefusesOtherSites: another site cannot auto-submit the
// sign-in form with the attacker's key (login CSRF, issue 13 D13); the
// site's own form, and clients that are no browser, still sign in.
func TestUISignInRefusesOtherSites(t *testing.T) {
	h := startServe(t, "", newFake(t, 10, nil))
	form := url.Values{"key": {h.admin}, "next": {"/"}}
	for name, hdr := range map[string]map[string]string{
		"cross-site fetch metadata": {"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"},
		"same-site other origin":    {"Sec-Fetch-Site": "same-site"},
		"foreign Origin only":       {"Origin": "https://evil.example"},
		"null Origin":               {"Origin": "null"},
	} {
		resp := h.postLogin(form, hdr)
		if resp.StatusCode != http.StatusForbidden || len(resp.Cookies()) != 0 {
			t.Errorf("%s: %d with %d cookies, want 403 and no session", name, resp.StatusCode, len(resp.Cookies()))
		}
	}
	for name, hdr := range map[string]map[string]string{
		"own form":      {"Sec-Fetch-Site": "same-origin", "Origin": h.base},
		"own Origin":    {"Origin": h.base},
		"typed URL":     {"Sec-Fetch-Site": "none"},
		"not a browser": nil,
	} {
		resp := h.postLogin(form, hdr)
		if resp.StatusCode != http.StatusSeeOther || len(resp.Cookies()) == 0 {
			t.Errorf("%s: %d with %d cookies, want 303 and a session", name, resp.StatusCode, len(resp.Cookies()))
		}
	}
}
