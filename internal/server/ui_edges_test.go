package server

import (
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"forewarn/internal/ui"
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

// uiGet fetches path with a signed-in client and returns status and body.
func (h *harness) uiGet(c *http.Client, path string) (int, string) {
	h.t.Helper()
	resp, err := c.Get(h.base + path)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestUIStaticListsNoDirectory (issue 13 D14).
func TestUIStaticListsNoDirectory(t *testing.T) {
	h := startServe(t, "", newFake(t, 10, nil))
	for _, p := range []string{"/static/", "/static/vendor/", "/static/vendor", "/static/./"} {
		resp, err := client.Get(h.base + p)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound || strings.Contains(string(b), "app.js") || strings.Contains(string(b), "htmx") {
			t.Errorf("GET %s: %d %.80q, want 404 without a listing", p, resp.StatusCode, b)
		}
	}
	if resp, err := client.Get(h.base + "/static/app.js"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /static/app.js: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
}

// TestUIAllowlistNoticeOnlyForARealChange: a link that names an addition
// or removal which did not happen in this session shows no notice
// (issue 13 D14).
func TestUIAllowlistNoticeOnlyForARealChange(t *testing.T) {
	h := startServe(t, "", newFake(t, 10, nil))
	c, _ := h.uiClient(h.admin)
	for _, q := range []string{
		"removed=8.8.8.8%2F32",
		"removed=Your+session+expired%2C+sign+in+at+evil.example",
		"added=0.0.0.0%2F0&whitelisted=123456",
		"removed=8.8.8.8%2F32&sig=AAAAAAAAAAAAAAAAAAAAAA",
	} {
		code, body := h.uiGet(c, "/allowlist?"+q)
		if code != 200 || strings.Contains(body, "from the allow-list.") || strings.Contains(body, "to the allow-list:") || strings.Contains(body, "evil.example") {
			t.Errorf("GET /allowlist?%s: %d shows a notice for a change that did not happen", q, code)
		}
	}
}

// TestUIClusterLinkIsEncoded: a cluster value with URL syntax reaches the
// cluster fragment whole (issue 13 D14).
func TestUIClusterLinkIsEncoded(t *testing.T) {
	const cluster = "c&x=1#f ?"
	csv := "ip,predicted_at,predicted_netblock,predicted_category,cluster,detected_by,detected_identifiers,detected_categories,detected_at,last_seen_at,importance\n" +
		"45.33.10.1,2026-04-01T00:00:00,45.33.10.0/24,spam," + cluster + ",d,,spam,2026-04-10T00:00:00,2026-04-20T00:00:00,10\n" +
		"45.33.10.2,2026-04-01T00:00:00,45.33.10.0/24,spam," + cluster + ",d,,spam,2026-04-10T00:00:00,2026-04-20T00:00:00,10\n" +
		"45.33.10.3,2026-04-01T00:00:00,45.33.10.0/24,spam,c,d,,spam,2026-04-10T00:00:00,2026-04-20T00:00:00,10\n"
	h := startServe(t, "", newFake(t, 0, gz(t, csv)))
	h.configure(map[string]any{"age_out": "never"})
	h.waitRun(h.must(202, "POST", "/api/v1/feeds/seclytics/runs", h.admin, nil).body["run_id"].(float64))
	c, _ := h.uiClient(h.admin)
	_, page := h.uiGet(c, "/indicators/45.33.10.1")
	m := regexp.MustCompile(`hx-get="([^"]*/cluster\?[^"]*)"`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no cluster hx-get on the detail page:\n%s", page)
	}
	link := html.UnescapeString(m[1])
	u, err := url.Parse(link)
	if err != nil || u.Query().Get("cluster") != cluster || u.Fragment != "" {
		t.Fatalf("hx-get %q carries cluster %q, want %q", link, u.Query().Get("cluster"), cluster)
	}
	if _, frag := h.uiGet(c, link); !strings.Contains(frag, "45.33.10.2") || strings.Contains(frag, "45.33.10.3") {
		t.Errorf("the cluster fragment does not list the other member 45.33.10.2 only:\n%s", frag)
	}
}

// TestUITrustedProxy: behind a proxy named with --trusted-proxy the session
// cookie is Secure when the proxy says the browser used https, and the
// sign-in limit counts the forwarded client addresses one by one; from any
// other peer those headers are ignored (issue 13 D14).
func TestUITrustedProxy(t *testing.T) {
	secure := func(resp *http.Response) (bool, bool) {
		for _, c := range resp.Cookies() {
			if c.Name == "forewarn_session" {
				return true, c.Secure
			}
		}
		return false, false
	}
	https := map[string]string{"X-Forwarded-Proto": "https"}

	plain := startServe(t, "", newFake(t, 10, nil))
	if got, sec := secure(plain.postLogin(url.Values{"key": {plain.admin}}, https)); !got || sec {
		t.Errorf("no trusted proxy, X-Forwarded-Proto https: cookie %v Secure %v, want a cookie that is not Secure", got, sec)
	}

	trusted, err := ParseTrustedProxies("127.0.0.1, 10.0.0.0/8")
	if err != nil {
		t.Fatal(err)
	}
	h := startServe(t, "", newFake(t, 10, nil), func(c *Config) { c.TrustedProxies = trusted })
	if got, sec := secure(h.postLogin(url.Values{"key": {h.admin}}, https)); !got || !sec {
		t.Errorf("trusted proxy, X-Forwarded-Proto https: cookie %v Secure %v, want Secure", got, sec)
	}
	if got, sec := secure(h.postLogin(url.Values{"key": {h.admin}}, nil)); !got || sec {
		t.Errorf("trusted proxy, plain http: cookie %v Secure %v, want not Secure", got, sec)
	}
	// One forwarded client sprays wrong keys (spoofing an extra hop on the
	// left): it is closed, the proxy's other clients are not.
	for i := range ui.MaxFailedSignInsPerAddress {
		resp := h.postLogin(url.Values{"key": {fmt.Sprintf("fwk_spray%d", i)}}, map[string]string{"X-Forwarded-For": "203.0.113.66, 198.51.100.1, 10.1.1.1"})
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("wrong key %d: %d, want 401", i, resp.StatusCode)
		}
	}
	if resp := h.postLogin(url.Values{"key": {h.admin}}, map[string]string{"X-Forwarded-For": "198.51.100.1"}); resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("the spraying client with a right key: %d, want 429", resp.StatusCode)
	}
	if resp := h.postLogin(url.Values{"key": {h.admin}}, map[string]string{"X-Forwarded-For": "198.51.100.2"}); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("another client behind the proxy: %d, want 303", resp.StatusCode)
	}
	if _, err := ParseTrustedProxies("proxy.example"); err == nil || !strings.Contains(err.Error(), "--trusted-proxy") {
		t.Errorf("a host name as --trusted-proxy: %v, want an error naming the flag", err)
	}
}

// TestUIRendersTypedValues: the detail page writes each attribute value as
// text, a list one row per item, and links the predicted netblock and its
// other listed address; the list page shows importance, categories and
// last seen. The read model's values are typed; this pins what a person
// sees, which must not move with it.
func TestUIRendersTypedValues(t *testing.T) {
	csv := "ip,predicted_at,predicted_netblock,predicted_category,cluster,detected_by,detected_identifiers,detected_categories,detected_at,last_seen_at,importance\n" +
		"45.33.10.1,2026-04-01T00:00:00,45.33.10.0/24,spam,c1,\"d1,d2\",,\"spam,botnet\",2026-04-10T00:00:00,2026-04-20T00:00:00,85.5\n" +
		"45.33.10.2,2026-04-01T00:00:00,45.33.10.0/24,spam,c1,d1,,spam,2026-04-10T00:00:00,2026-04-21T00:00:00,10\n"
	h := startServe(t, "", newFake(t, 0, gz(t, csv)))
	h.configure(map[string]any{"age_out": "never", "threshold": 0, "context": []string{"Predicted Netblock", "Cluster", "Detected By", "Detected Categories", "Last Seen At", "Importance"}})
	h.waitRun(h.must(202, "POST", "/api/v1/feeds/seclytics/runs", h.admin, nil).body["run_id"].(float64))
	c, _ := h.uiClient(h.admin)
	_, page := h.uiGet(c, "/indicators/45.33.10.1")
	for _, want := range []string{
		"<h1>45.33.10.1 <span",
		`<td>Detected Categories</td><td><a href="/indicators?category=botnet&amp;status=">botnet</a></td>`, `<td>Detected Categories</td><td><a href="/indicators?category=spam&amp;status=">spam</a></td>`,
		"<td>Detected By</td><td>d1</td>", "<td>Detected By</td><td>d2</td>",
		"<td>Importance</td><td>85.5</td>", "<td>Last Seen At</td><td>2026-04-20</td>",
		`<td>Predicted Netblock</td><td><a href="/indicators?q=45.33.10.0%2f24&amp;status=">45.33.10.0/24</a></td>`, ">45.33.10.0/24</a></h2>",
		`<li><a href="/indicators/45.33.10.2">45.33.10.2</a>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("detail page lacks %q:\n%s", want, page)
		}
	}
	_, list := h.uiGet(c, "/indicators?sort=value")
	row := `<td class="num">85.5</td><td>botnet, spam</td><td>2026-04-20</td>`
	if !strings.Contains(list, row) || !strings.Contains(list, `<a href="/indicators/45.33.10.1">45.33.10.1</a>`) {
		t.Errorf("list page lacks the row %q:\n%s", row, list)
	}
}
