package server

import (
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// TestUIOutputs: the outputs page lists each profile (path, format,
// budget, entries, cut-off, last fetched by whom and when); an admin adds
// one and sees its key once (never cached), rotates it (the old key stops
// working) and removes it; a bad field is refused next to it with what was
// typed; a read key gets neither the page nor the link, and cannot change
// anything.
func TestUIOutputs(t *testing.T) {
	h := startServe(t, "", newFake(t, 300, nil))
	h.configure(map[string]any{"age_out": "never"})
	h.waitRun(h.must(202, "POST", "/api/v1/feeds/seclytics/runs", h.admin, nil).body["run_id"].(float64))
	admin, csrf := h.uiClient(h.admin)
	send := func(c *http.Client, path string, form url.Values) (int, string, http.Header) {
		t.Helper()
		resp, err := c.PostForm(h.base+path, form)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), resp.Header
	}
	get := func(c *http.Client, path, key, user string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", h.base+path, nil)
		if user != "" {
			req.SetBasicAuth(user, key)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	keyRE := regexp.MustCompile(`value="(fwo_[A-Za-z0-9_-]{43})"`)

	if code, p := get(admin, "/output-profiles", "", ""); code != 200 || !strings.Contains(p, `href="/output-profiles" aria-current="page"`) || !strings.Contains(p, "No outputs yet.") {
		t.Fatalf("the empty outputs page: %d, want the nav link current and no outputs:\n%s", code, p)
	}
	add := url.Values{"csrf": {csrf}, "name": {"edge"}, "format": {"edl"}, "max": {"5"}, "rank": {"confidence"},
		"feeds": {"nope"}, "min_confidence": {"70"}}
	code, body, _ := send(admin, "/output-profiles", add)
	if code != 400 || !strings.Contains(body, `id="output-feeds-error">no feed &#34;nope&#34;`) || !strings.Contains(body, `value="70"`) {
		t.Errorf("an unknown feed: %d, want 400 with the error next to the field and the typed values:\n%s", code, body)
	}
	add.Set("feeds", "seclytics")
	add.Set("max", "five")
	if code, body, _ = send(admin, "/output-profiles", add); code != 400 || !strings.Contains(body, `id="output-max-error">&#34;five&#34; is not a whole number.`) {
		t.Errorf("a budget that is not a number: %d, want 400 next to the field:\n%s", code, body)
	}
	if code, _, _ = send(admin, "/output-profiles", url.Values{"name": {"edge"}, "format": {"edl"}}); code != http.StatusForbidden {
		t.Errorf("add without a CSRF token: %d, want 403", code)
	}

	add.Set("max", "5")
	code, body, hdr := send(admin, "/output-profiles", add)
	m := keyRE.FindStringSubmatch(body)
	if code != 200 || m == nil || hdr.Get("Cache-Control") != "no-store" || !strings.Contains(body, "at most 5 by confidence") ||
		!strings.Contains(body, "listed by seclytics, confidence at least 70") {
		t.Fatalf("add: %d, Cache-Control %q; want the key once, not cached, and the profile listed:\n%s", code, hdr.Get("Cache-Control"), body)
	}
	key := m[1]
	code, list := get(http.DefaultClient, "/outputs/edge", key, "paloalto")
	if code != 200 || strings.Count(list, "\n") != 5 {
		t.Fatalf("fetch with the new key: %d, %q; want 5 addresses", code, list)
	}
	_, p := get(admin, "/output-profiles", "", "")
	if strings.Contains(p, key) || !regexp.MustCompile(`<td>5</td><td>\d+</td>\s*<td><time datetime="[^"]+">[^<]+</time> by 127\.0\.0\.1 \(user paloalto\)</td>`).MatchString(p) {
		t.Errorf("after a fetch, want the key gone and 5 entries, the cut-off and who fetched when:\n%s", p)
	}

	code, body, _ = send(admin, "/output-profiles/rotate-key", url.Values{"csrf": {csrf}, "name": {"edge"}})
	m = keyRE.FindStringSubmatch(body)
	if code != 200 || m == nil || m[1] == key {
		t.Fatalf("rotate-key: %d, want a new key shown once:\n%s", code, body)
	}
	if code, _ = get(http.DefaultClient, "/outputs/edge", key, "paloalto"); code != 401 {
		t.Errorf("the old key after rotation: %d, want 401", code)
	}
	if code, _ = get(http.DefaultClient, "/outputs/edge", m[1], "paloalto"); code != 200 {
		t.Errorf("the rotated key: %d, want 200", code)
	}

	r := h.must(201, "POST", "/api/v1/apikeys", h.admin, map[string]any{"name": "ro", "role": "read"})
	ro, roCSRF := h.uiClient(r.body["key"].(string))
	if code, p := get(ro, "/output-profiles", "", ""); code != http.StatusForbidden || strings.Contains(p, `href="/output-profiles"`) {
		t.Errorf("a read key's outputs page: %d, want 403 and no link", code)
	}
	for _, path := range []string{"/output-profiles", "/output-profiles/rotate-key", "/output-profiles/remove"} {
		if code, _, _ := send(ro, path, url.Values{"csrf": {roCSRF}, "name": {"edge"}, "format": {"edl"}}); code != http.StatusForbidden {
			t.Errorf("POST %s with a read session: %d, want 403", path, code)
		}
	}

	code, body, _ = send(admin, "/output-profiles/remove", url.Values{"csrf": {csrf}, "name": {"edge"}})
	if code != 200 || !strings.Contains(body, "Output edge removed") || !strings.Contains(body, "No outputs yet.") {
		t.Errorf("remove: %d, want the notice and no outputs:\n%s", code, body)
	}
	if code, _ = get(http.DefaultClient, "/outputs/edge", m[1], "paloalto"); code == 200 {
		t.Error("a removed output still answers its key")
	}
}
