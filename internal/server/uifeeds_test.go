package server

import (
	"bytes"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
)

// TestUIAddAndRemoveFeed: an admin uploads a custom definition from the
// Integrations page (a file or pasted text, checked by the same use case
// as POST /api/v1/feeds): a broken one is refused with each problem at its
// line:column and the text kept; a good one lands on the new feed's page,
// generated from its parameters; the feed is removed only with the box
// ticked. A read-only user is told why there is no form, and refused.
func TestUIAddAndRemoveFeed(t *testing.T) {
	def, err := os.ReadFile("../feeddef/testdata/custom/acme-threats.yaml")
	if err != nil {
		t.Fatal(err)
	}
	h := startServe(t, "", nil)
	c, csrf := h.uiClient(h.admin)
	send := func(c *http.Client, path, csrf string, fields map[string]string, file []byte) (int, string, string) {
		t.Helper()
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		mw.WriteField("csrf", csrf)
		for k, v := range fields {
			mw.WriteField(k, v)
		}
		if file != nil {
			fw, _ := mw.CreateFormFile("file", "feed.yaml")
			fw.Write(file)
		}
		mw.Close()
		resp, err := c.Post(h.base+path, mw.FormDataContentType(), &body)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Request.URL.Path, string(b)
	}

	_, _, page := send(c, "/integrations/feeds", csrf, nil, nil)
	if !strings.Contains(page, "no definition given") {
		t.Errorf("empty form: want the problem named\n%s", page)
	}
	broken := "id: acme-threats\ntitle: x\nmode: sometimes\n"
	code, _, page := send(c, "/integrations/feeds", csrf, map[string]string{"definition": strings.ReplaceAll(broken, "\n", "\r\n")}, nil)
	if code != http.StatusUnprocessableEntity || !strings.Contains(page, `id="definition-problems"`) || !strings.Contains(page, "3:7: ") ||
		!strings.Contains(page, "title: x\nmode: sometimes\n</textarea>") {
		t.Fatalf("broken definition: %d, want 422 with 3:7 and the text kept\n%s", code, page)
	}
	code, path, page := send(c, "/integrations/feeds", csrf, nil, def)
	if code != 200 || path != "/integrations/feeds/acme-threats" || !strings.Contains(page, "The feed was added") ||
		!strings.Contains(page, `name="p.min_score"`) || !strings.Contains(page, `id="remove-feed"`) {
		t.Fatalf("upload: %d at %s, want the new feed's page with its parameters\n%s", code, path, page)
	}
	if feeds := h.must(200, "GET", "/api/v1/feeds", h.admin, nil); !strings.Contains(string(feeds.raw), `"acme-threats"`) {
		t.Fatalf("the API does not list the uploaded feed: %s", feeds.raw)
	}
	code, _, page = send(c, "/integrations/feeds", csrf, map[string]string{"definition": string(def)}, nil)
	if code != http.StatusConflict || !strings.Contains(page, "already stored") {
		t.Fatalf("the same id again: %d\n%s", code, page)
	}
	resp, err := c.Get(h.base + "/integrations")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if list := string(b); !strings.Contains(list, `id="feed-acme-threats"`) || !strings.Contains(list, "acme-threats, custom") {
		t.Fatalf("integrations does not list the custom feed\n%s", list)
	}

	// A read-only user: told why, refused, and the feed stays.
	r := h.must(201, "POST", "/api/v1/apikeys", h.admin, map[string]any{"name": "viewer", "role": "read"})
	rc, rcsrf := h.uiClient(r.body["key"].(string))
	resp, err = rc.Get(h.base + "/integrations")
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if ro := string(b); !strings.Contains(ro, `id="add-feed-denied"`) || strings.Contains(ro, `id="add-feed-form"`) {
		t.Errorf("read-only Integrations: want the reason instead of the form\n%s", ro)
	}
	if code, _, _ := send(rc, "/integrations/feeds/acme-threats/remove", rcsrf, map[string]string{"confirm": "on"}, nil); code != http.StatusForbidden {
		t.Errorf("read-only remove: %d, want 403", code)
	}

	remove := func(form url.Values) (int, string, string) {
		t.Helper()
		form.Set("csrf", csrf)
		resp, err := c.PostForm(h.base+"/integrations/feeds/acme-threats/remove", form)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Request.URL.Path, string(b)
	}
	if code, _, page := remove(url.Values{}); code != http.StatusBadRequest || !strings.Contains(page, "tick the confirmation box") {
		t.Fatalf("remove unconfirmed: %d\n%s", code, page)
	}
	h.must(200, "GET", "/api/v1/feeds/acme-threats", h.admin, nil)
	code, path, page = remove(url.Values{"confirm": {"on"}})
	if code != 200 || path != "/integrations" || !strings.Contains(page, "The feed was removed") || strings.Contains(page, `id="feed-acme-threats"`) {
		t.Fatalf("remove: %d at %s\n%s", code, path, page)
	}
	h.must(404, "GET", "/api/v1/feeds/acme-threats", h.admin, nil)
	if code, _, _ := send(c, "/integrations/feeds/spamhaus-drop/remove", csrf, map[string]string{"confirm": "on"}, nil); code != http.StatusConflict {
		t.Errorf("removing a built-in: %d, want 409", code)
	}
}
