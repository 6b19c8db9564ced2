package server

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestOutputProfiles drives output profiles end to end: made through the
// API, each served at /outputs/NAME to its own key (Bearer, basic auth or
// ?key=) with its budget ranked by importance, an ETag from its content and
// 304 for If-None-Match; its key refused by the API, the exports, TAXII,
// the web UI and other profiles, and an API key refused by it; an
// allow-list entry changing the next fetch; the last fetch, entries and
// cut-off in the API and /metrics; a rotated or removed key refused.
func TestOutputProfiles(t *testing.T) {
	h := startServe(t, "", newFake(t, 10, gz(t, lookupDump)))
	h.configure(map[string]any{"age_out": "never"})
	run := h.must(202, "POST", "/api/v1/feeds/seclytics/runs", h.admin, nil)
	h.waitRun(run.body["run_id"].(float64))

	edge := h.must(201, "POST", "/api/v1/outputs", h.admin, map[string]any{"name": "edge", "format": "edl", "max": 2}).body["key"].(string)
	misp := h.must(201, "POST", "/api/v1/outputs", h.admin, map[string]any{"name": "misp", "format": "misp-feed", "tlp": "green"}).body["key"].(string)
	if !strings.HasPrefix(edge, "fwo_") {
		t.Fatalf("an output key %q does not start with fwo_", edge)
	}
	for field, body := range map[string]map[string]any{
		"format":         {"name": "x", "format": "pdf"},
		"status":         {"name": "x", "format": "edl", "max": 5, "statuses": []string{"Expired"}},
		"name":           {"name": "Bad Name", "format": "edl"},
		"feeds":          {"name": "x", "format": "edl", "feeds": []string{"nope"}},
		"min_confidence": {"name": "x", "format": "edl", "min_confidence": 101},
	} {
		if r := h.do("POST", "/api/v1/outputs", h.admin, body); r.status != 400 || r.errField() != field {
			t.Errorf("%v: %d %s; want 400 naming %s", body, r.status, r.raw, field)
		}
	}

	h.must(201, "POST", "/api/v1/outputs", h.admin, map[string]any{"name": "sure", "format": "edl", "max": 3, "rank": "confidence",
		"feeds": []string{"seclytics"}, "min_sources": 1, "min_confidence": 50})
	if o := h.must(200, "GET", "/api/v1/outputs/sure", h.admin, nil).body["output"].(map[string]any); o["rank"] != "confidence" ||
		fmt.Sprint(o["feeds"]) != "[seclytics]" || o["min_sources"] != 1.0 || o["min_confidence"] != 50.0 {
		t.Errorf("a profile's filters in the API: %v", o)
	}
	var etag string
	for _, how := range []string{"bearer", "basic", "query"} {
		resp, body := h.get("/outputs/edge", how, edge, nil)
		// The two most important: 2a03:2880:10::5 (90), 45.33.12.7 (80).
		if resp.StatusCode != 200 || body != "45.33.12.7\n2a03:2880:10::5\n" {
			t.Fatalf("edge with its key as %s: %d %q", how, resp.StatusCode, body)
		}
		etag = resp.Header.Get("ETag")
	}
	if resp, _ := h.get("/outputs/edge", "bearer", edge, map[string]string{"If-None-Match": etag}); resp.StatusCode != 304 {
		t.Errorf("If-None-Match with the content's ETag: %d", resp.StatusCode)
	}

	// The key opens its profile and nothing else; an API key opens no profile.
	for _, path := range []string{"/api/v1/feeds", "/api/v1/export/edl", "/api/v1/outputs/edge", "/outputs/misp/manifest.json"} {
		if resp, _ := h.get(path, "bearer", edge, nil); resp.StatusCode != 401 {
			t.Errorf("%s with edge's key: %d; want 401", path, resp.StatusCode)
		}
	}
	if resp, _ := h.get("/api/v1/export/edl", "query", edge, nil); resp.StatusCode != 401 {
		t.Errorf("an export with edge's key as ?key=: %d", resp.StatusCode)
	}
	if code, _, _ := h.taxiiGet("/taxii2/", edge, "application/taxii+json;version=2.1"); code != 401 {
		t.Errorf("TAXII with edge's key: %d", code)
	}
	if resp, err := client.PostForm(h.base+"/login", url.Values{"key": {edge}}); err != nil || resp.StatusCode != 401 {
		t.Errorf("UI sign-in with edge's key: %v %v", resp.StatusCode, err)
	}
	for _, key := range []string{h.admin, misp, ""} {
		if resp, _ := h.get("/outputs/edge", "bearer", key, nil); resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("edge with another key (%.8s): %d", key, resp.StatusCode)
		}
	}

	shown := h.must(200, "GET", "/api/v1/outputs/edge", h.admin, nil).body["output"].(map[string]any)
	if !strings.HasPrefix(shown["last_fetched_by"].(string), "127.0.0.1") || shown["entries"] != 2.0 || shown["cut_off"] != "80" {
		t.Errorf("edge's record: %v", shown)
	}
	metrics := h.metrics()
	for _, want := range []string{`forewarn_output_entries{output="edge"} 2`, `forewarn_output_cutoff{output="edge"} 80`, `forewarn_output_last_fetch_timestamp_seconds{output="edge"}`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	// An allow-list entry changes the next fetch: the budget takes the next best.
	h.must(201, "POST", "/api/v1/allowlist", h.admin, map[string]any{"cidr": "45.33.12.7/32", "comment": "partner"})
	resp, body := h.get("/outputs/edge", "bearer", edge, map[string]string{"If-None-Match": etag})
	if resp.StatusCode != 200 || body != "45.33.12.9\n2a03:2880:10::5\n" || resp.Header.Get("ETag") == etag {
		t.Errorf("after allow-listing 45.33.12.7: %d %q (ETag %s, was %s)", resp.StatusCode, body, resp.Header.Get("ETag"), etag)
	}

	// A MISP feed profile serves its files, marked as the profile says.
	resp, body = h.get("/outputs/misp/manifest.json", "basic", misp, nil)
	if resp.StatusCode != 200 || !strings.Contains(body, `"tlp:green"`) || !strings.Contains(body, "(misp)") {
		t.Errorf("misp manifest: %d %q", resp.StatusCode, body)
	}
	if resp, _ := h.get("/outputs/misp", "basic", misp, nil); resp.StatusCode != 404 {
		t.Errorf("a MISP feed fetched as one file: %d", resp.StatusCode)
	}

	newKey := h.must(200, "POST", "/api/v1/outputs/edge/rotate-key", h.admin, nil).body["key"].(string)
	if resp, _ := h.get("/outputs/edge", "bearer", edge, nil); resp.StatusCode != 401 {
		t.Errorf("the old key after rotate-key: %d", resp.StatusCode)
	}
	if resp, _ := h.get("/outputs/edge", "bearer", newKey, nil); resp.StatusCode != 200 {
		t.Errorf("the new key: %d", resp.StatusCode)
	}
	h.must(204, "DELETE", "/api/v1/outputs/edge", h.admin, nil)
	if resp, _ := h.get("/outputs/edge", "bearer", newKey, nil); resp.StatusCode != 401 {
		t.Errorf("a removed output's key: %d", resp.StatusCode)
	}
}

// metrics is the text of /metrics.
func (h *harness) metrics() string {
	h.t.Helper()
	resp, err := client.Get(h.base + "/metrics")
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		h.t.Fatalf("/metrics: %d", resp.StatusCode)
	}
	return string(b)
}
