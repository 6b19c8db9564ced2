package server

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// get sends a GET with the key as a bearer token, a basic-auth password or
// a ?key= parameter, and extra headers.
func (h *harness) get(path, how, key string, hdr map[string]string) (*http.Response, string) {
	h.t.Helper()
	if how == "query" {
		sep := "?"
		if strings.Contains(path, "?") {
			sep = "&"
		}
		path += sep + "key=" + key
	}
	req, _ := http.NewRequest("GET", h.base+path, nil)
	switch how {
	case "bearer":
		req.Header.Set("Authorization", "Bearer "+key)
	case "basic":
		req.SetBasicAuth("firewall", key)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestExportsOverHTTP(t *testing.T) {
	h := startServe(t, "", newFake(t, 10, gz(t, lookupDump)))
	// The dump's dates are months old: keep its indicators from ageing out.
	h.configure(map[string]any{"age_out": "never"})
	run := h.must(202, "POST", "/api/v1/feeds/seclytics/runs", h.admin, nil)
	h.waitRun(run.body["run_id"].(float64))
	read := h.createKey("firewall", "read")

	// Firewalls that cannot send headers use basic auth or ?key=.
	var etag, lastMod string
	for _, how := range []string{"bearer", "basic", "query"} {
		resp, body := h.get("/api/v1/export/edl", how, read, nil)
		if resp.StatusCode != 200 || body != "45.33.12.7\n45.33.12.9\n45.33.200.1\n2a03:2880:10::5\n" {
			t.Fatalf("edl with the key as %s: %d %q", how, resp.StatusCode, body)
		}
		etag, lastMod = resp.Header.Get("ETag"), resp.Header.Get("Last-Modified")
		if etag == "" || lastMod == "" {
			t.Fatalf("no validators: %v", resp.Header)
		}
	}
	if resp, _ := h.get("/api/v1/export/edl", "", "", nil); resp.StatusCode != 401 {
		t.Fatalf("without a key: %d", resp.StatusCode)
	}
	if resp, _ := h.get("/api/v1/export/edl", "query", "fwk_wrong", nil); resp.StatusCode != 401 {
		t.Fatalf("with a wrong key: %d", resp.StatusCode)
	}

	// Conditional requests.
	if resp, body := h.get("/api/v1/export/edl", "bearer", read, map[string]string{"If-None-Match": etag}); resp.StatusCode != 304 || body != "" {
		t.Fatalf("If-None-Match: %d %q", resp.StatusCode, body)
	}
	if resp, _ := h.get("/api/v1/export/edl", "bearer", read, map[string]string{"If-Modified-Since": lastMod}); resp.StatusCode != 304 {
		t.Fatalf("If-Modified-Since: %d", resp.StatusCode)
	}
	// Another query is another ETag.
	if resp, body := h.get("/api/v1/export/edl?max=1", "bearer", read, map[string]string{"If-None-Match": etag}); resp.StatusCode != 200 || body != "2a03:2880:10::5\n" {
		t.Fatalf("max=1 with the other query's ETag: %d %q", resp.StatusCode, body)
	}

	// A person whitelists an address: the ETag moves and the blocklist
	// drops it.
	h.must(200, "PATCH", "/api/v1/indicators/45.33.12.9", h.admin, map[string]any{"status": "Whitelisted"})
	resp, body := h.get("/api/v1/export/edl", "bearer", read, map[string]string{"If-None-Match": etag})
	if resp.StatusCode != 200 || strings.Contains(body, "45.33.12.9\n") || resp.Header.Get("ETag") == etag {
		t.Fatalf("after whitelisting: %d %q, ETag %s (was %s)", resp.StatusCode, body, resp.Header.Get("ETag"), etag)
	}
	if _, body := h.get("/api/v1/export/edl?status=Active,Whitelisted", "bearer", read, nil); strings.Contains(body, "45.33.12.9\n") {
		t.Fatalf("a blocklist included a Whitelisted address: %q", body)
	}

	// The other formats.
	if resp, body := h.get("/api/v1/export/stix", "bearer", read, nil); resp.StatusCode != 200 || !json.Valid([]byte(body)) || !strings.Contains(body, `"type":"bundle"`) {
		t.Fatalf("stix: %d %.200s", resp.StatusCode, body)
	}
	for format, want := range map[string]string{
		"jsonl":               `"value":"45.33.12.7"`,
		"csv":                 "45.33.12.7",
		"zeek-intel":          "Intel::ADDR",
		"suricata-iprep":      "45.33.12.7,",
		"suricata-categories": ",",
	} {
		resp, body := h.get("/api/v1/export/"+format, "basic", read, nil)
		if resp.StatusCode != 200 || !strings.Contains(body, want) {
			t.Errorf("%s: %d %.200q", format, resp.StatusCode, body)
		}
	}
	if r := h.do("GET", "/api/v1/export/pdf", read, nil); r.status != 404 || r.errCode() != "not_found" {
		t.Fatalf("unknown format: %d %s", r.status, r.raw)
	}
	if r := h.do("GET", "/api/v1/export/edl?max=-1", read, nil); r.status != 400 || r.errField() != "max" {
		t.Fatalf("bad max: %d %s", r.status, r.raw)
	}
	if r := h.do("GET", "/api/v1/export/csv?aggregate=true", read, nil); r.status != 400 {
		t.Fatalf("aggregate on csv: %d %s", r.status, r.raw)
	}
}
