package server

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestDistributionFormatsOverHTTP serves crowdsec, ecs and the misp-feed
// files through the API's export routes: the content types, a MISP feed
// walked the way MISP walks it (the manifest, then each event it names,
// then hashes.csv), a 304 on a repeated fetch, a 404 for a file the feed
// does not have and a 400 naming the manifest when misp-feed is asked for
// as one stream.
func TestDistributionFormatsOverHTTP(t *testing.T) {
	h := startServe(t, "", newFake(t, 10, gz(t, lookupDump)))
	h.configure(map[string]any{"age_out": "never"})
	run := h.must(202, "POST", "/api/v1/feeds/seclytics/runs", h.admin, nil)
	h.waitRun(run.body["run_id"].(float64))
	read := h.createKey("misp", "read")

	resp, body := h.get("/api/v1/export/crowdsec", "bearer", read, nil)
	var decisions []map[string]string
	if err := json.Unmarshal([]byte(body), &decisions); resp.StatusCode != 200 || err != nil || len(decisions) != 4 ||
		resp.Header.Get("Content-Type") != "application/json" || decisions[0]["type"] != "ban" {
		t.Fatalf("crowdsec: %d %s %v %q", resp.StatusCode, resp.Header.Get("Content-Type"), err, body)
	}
	resp, body = h.get("/api/v1/export/ecs?tlp=green", "basic", read, nil)
	if resp.StatusCode != 200 || strings.Count(body, "\n") != 4 || !strings.Contains(body, `"tlp":"GREEN"`) {
		t.Fatalf("ecs: %d %q", resp.StatusCode, body)
	}
	if resp, body := h.get("/api/v1/export/edl?tlp=green", "bearer", read, nil); resp.StatusCode != 400 || !strings.Contains(body, "tlp") {
		t.Fatalf("tlp on edl: %d %q", resp.StatusCode, body)
	}

	if resp, body := h.get("/api/v1/export/misp-feed", "bearer", read, nil); resp.StatusCode != 400 || !strings.Contains(body, "misp-feed/manifest.json") {
		t.Fatalf("misp-feed as one stream: %d %q", resp.StatusCode, body)
	}
	resp, body = h.get("/api/v1/export/misp-feed/manifest.json", "bearer", read, nil)
	var manifest map[string]struct{ Timestamp int64 }
	if err := json.Unmarshal([]byte(body), &manifest); resp.StatusCode != 200 || err != nil || len(manifest) != 1 {
		t.Fatalf("manifest: %d %v %q", resp.StatusCode, err, body)
	}
	etag := resp.Header.Get("ETag")
	if resp, _ := h.get("/api/v1/export/misp-feed/manifest.json", "bearer", read, map[string]string{"If-None-Match": etag}); resp.StatusCode != 304 {
		t.Fatalf("manifest with its ETag: %d", resp.StatusCode)
	}
	for id := range manifest {
		resp, body := h.get("/api/v1/export/misp-feed/"+id+".json?misp_attribute=ip-src", "query", read, nil)
		var ev struct {
			Event struct {
				Attribute []struct{ Type, Value string }
			}
		}
		if err := json.Unmarshal([]byte(body), &ev); resp.StatusCode != 200 || err != nil || len(ev.Event.Attribute) != 4 || ev.Event.Attribute[0].Type != "ip-src" {
			t.Fatalf("event %s: %d %v %q", id, resp.StatusCode, err, body)
		}
		resp, body = h.get("/api/v1/export/misp-feed/hashes.csv", "bearer", read, nil)
		if resp.StatusCode != 200 || strings.Count(body, ","+id+"\n") != 4 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") {
			t.Fatalf("hashes.csv: %d %q", resp.StatusCode, body)
		}
	}
	for _, file := range []string{"00000000-0000-0000-0000-000000000000.json", "passwd"} {
		if resp, body := h.get("/api/v1/export/misp-feed/"+file, "bearer", read, nil); resp.StatusCode != 404 || !strings.Contains(body, "not_found") {
			t.Errorf("%s: %d %q", file, resp.StatusCode, body)
		}
	}
}
