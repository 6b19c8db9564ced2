package server

import (
	"context"
	"html"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"forewarn/internal/store"
)

// The API and the web UI perform each change through one use case, so they
// refuse the same input with the same field and message, and accept the
// same input. Before the use-case layer they disagreed: a bad API key name
// was a 500, the UI refused a lowercase status the API took, an allow-list
// comment had no size limit, and a run window was refused in other words.
func TestAPIAndUIRefuseAndAcceptAlike(t *testing.T) {
	h := startServe(t, "", newFake(t, 300, nil))
	h.configure(nil)
	id := h.must(202, "POST", "/api/v1/feeds/seclytics/runs", h.admin, nil).body["run_id"].(float64)
	h.waitRun(id)
	ip := h.must(200, "GET", "/api/v1/indicators?limit=1", h.admin, nil).body["indicators"].([]any)[0].(map[string]any)["value"].(string)
	c, csrf := h.uiClient(h.admin)
	post := func(path string, form url.Values) (int, string) {
		t.Helper()
		form.Set("csrf", csrf)
		resp, err := c.PostForm(h.base+path, form)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		return resp.StatusCode, html.UnescapeString(string(b))
	}

	// A key name the store cannot take is the client's mistake, named.
	for _, name := range []string{"bad name!", "42", strings.Repeat("k", 65), ""} {
		r := h.do("POST", "/api/v1/apikeys", h.admin, map[string]any{"name": name, "role": "read"})
		if r.status != http.StatusBadRequest || r.errField() != "name" {
			t.Errorf("create a key named %q: %d field %q, want 400 naming the field name: %s", name, r.status, r.errField(), r.raw)
		}
	}

	// The same window is refused by both, with the same words.
	r := h.do("POST", "/api/v1/feeds/seclytics/runs", h.admin, map[string]any{"since": "2026-01-31", "until": "2026-01-30"})
	msg, _ := r.body["error"].(map[string]any)["message"].(string)
	if r.status != http.StatusBadRequest || r.errField() != "until" || msg == "" {
		t.Fatalf("API run with until before since: %d %s, want 400 naming until", r.status, r.raw)
	}
	// The UI writes the message next to the field it names.
	if code, body := post("/integrations/seclytics/run", url.Values{"since": {"2026-01-31"}, "until": {"2026-01-30"}}); code != http.StatusBadRequest ||
		!strings.Contains(body, `id="until-error">`+strings.TrimPrefix(msg, "until: ")) {
		t.Errorf("UI run with until before since: %d %q, want 400 saying what the API says: %q", code, body, msg)
	}

	// A comment is bounded on both edges, and nothing is added.
	long := strings.Repeat("x", 1001)
	if r := h.do("POST", "/api/v1/allowlist", h.admin, map[string]any{"cidr": "198.51.100.0/24", "comment": long}); r.status != http.StatusBadRequest || r.errField() != "comment" {
		t.Errorf("API allow-list entry with a 1001-byte comment: %d field %q, want 400 naming comment", r.status, r.errField())
	}
	if code, _ := post("/allowlist", url.Values{"cidr": {"198.51.100.0/24"}, "comment": {long}}); code != http.StatusBadRequest {
		t.Errorf("UI allow-list entry with a 1001-byte comment: %d, want 400", code)
	}
	if n := len(h.must(200, "GET", "/api/v1/allowlist", h.admin, nil).body["entries"].([]any)); n == 0 {
		t.Fatal("the allow-list lists nothing, not even the built-in ranges")
	}
	for _, e := range h.must(200, "GET", "/api/v1/allowlist", h.admin, nil).body["entries"].([]any) {
		if e := e.(map[string]any); e["built_in"] != true {
			t.Errorf("a refused entry was stored: %v", e["cidr"])
		}
	}

	// A status in any case is taken by both.
	if code, body := post("/indicators/"+ip+"/status", url.Values{"status": {"review"}, "reason": {"to check"}}); code != http.StatusOK {
		t.Errorf("UI status review (lowercase): %d %.200q, want it taken as the API takes it", code, body)
	}
	if got := h.must(200, "GET", "/api/v1/indicators/"+ip, h.admin, nil).body["status"]; got != "Review" {
		t.Errorf("status after the UI set review: %v, want Review", got)
	}
	h.must(200, "PATCH", "/api/v1/indicators/"+ip, h.admin, map[string]any{"status": "active"})
}

// Every change made through serve is in the audit log with the key that
// made it and the edge it came through; refusals and reads are not.
func TestChangesAreAuditedWithTheirKey(t *testing.T) {
	h := startServe(t, "", newFake(t, 50, nil))
	h.configure(nil)
	id := h.must(202, "POST", "/api/v1/feeds/seclytics/runs", h.admin, nil).body["run_id"].(float64)
	h.waitRun(id)
	ip := h.must(200, "GET", "/api/v1/indicators?limit=1", h.admin, nil).body["indicators"].([]any)[0].(map[string]any)["value"].(string)
	h.must(400, "PATCH", "/api/v1/indicators/"+ip, h.admin, map[string]any{"status": "gone"})
	h.must(200, "PATCH", "/api/v1/indicators/"+ip, h.admin, map[string]any{"status": "Review"})
	c, csrf := h.uiClient(h.admin)
	resp, err := c.PostForm(h.base+"/indicators/"+ip+"/status", url.Values{"csrf": {csrf}, "status": {"Active"}, "reason": {"confirmed"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("UI status: %d", resp.StatusCode)
	}

	st, err := store.Open(context.Background(), h.db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	log, err := st.AuditLog(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	slices.Reverse(log)
	var got []string
	for _, e := range log {
		got = append(got, e.Via+" "+e.Action+" "+e.Target)
		if e.Actor != "admin" || e.KeyID == 0 {
			t.Errorf("%s %s: by %q (key %d), want the admin key", e.Via, e.Action, e.Actor, e.KeyID)
		}
	}
	want := []string{
		"api feed.configure seclytics",
		"api run.start seclytics run " + itoa(id),
		"api indicator.status " + ip,
		"ui ui.signin admin",
		"ui indicator.status " + ip,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("audit log (-want +got):\n%s", diff)
	}
}
