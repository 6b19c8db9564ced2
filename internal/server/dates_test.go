package server

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
)

// farDump has a Last Seen At in year 9999 (its expiry fell in year 10000,
// which no JSON or STIX timestamp can hold) and a Detected At before 1970.
const farDump = `ip,predicted_at,predicted_netblock,predicted_category,cluster,detected_by,detected_identifiers,detected_categories,detected_at,last_seen_at,importance
45.33.12.7,2026-01-01T00:00:00,45.33.12.0/24,malware,c1,sslbl,emotet,malware,1969-12-31T00:00:00,9999-12-31,80
`

// fiveDigitYear finds a timestamp whose year has five digits.
var fiveDigitYear = regexp.MustCompile(`"\d{5}-\d\d-\d\dT`)

// A date outside 1970-01-01 … a year ahead is dropped with a warning;
// every reply that shows the indicator stays valid JSON with valid
// timestamps. Before, the indicator list, lookups and a whole batch lookup
// answered 200 with an empty body, and STIX showed year 10000.
func TestFarDatesStayInRange(t *testing.T) {
	h := startServe(t, "", newFake(t, 10, gz(t, farDump)))
	h.configure(nil)
	run := h.must(202, "POST", "/api/v1/feeds/seclytics/runs", h.admin, nil)
	res := h.waitRun(run.body["run_id"].(float64))
	if res["status"] != "succeeded" || res["warnings"] != 2.0 || !strings.Contains(jsonText(t, res["problems"]), "last_seen_at") {
		t.Errorf("run: status %v, warnings %v, problems %v; want success and a warning for each date", res["status"], res["warnings"], res["problems"])
	}
	read := h.createKey("siem", "read")
	for _, rq := range []struct {
		method, path string
		body         any
	}{
		{"GET", "/api/v1/indicators", nil},
		{"GET", "/api/v1/indicators/45.33.12.7", nil},
		{"GET", "/api/v1/lookup?ip=45.33.12.7", nil},
		{"POST", "/api/v1/lookup", map[string]any{"ips": []string{"45.33.12.7", "8.8.8.8"}}},
	} {
		r := h.must(200, rq.method, rq.path, read, rq.body)
		if !strings.Contains(string(r.raw), "45.33.12.7") || fiveDigitYear.Match(r.raw) || strings.Contains(string(r.raw), "9999-12-31") {
			t.Errorf("%s %s: %s", rq.method, rq.path, r.raw)
		}
	}
	resp, body := h.get("/api/v1/export/stix", "bearer", read, nil)
	if resp.StatusCode != 200 || !json.Valid([]byte(body)) || fiveDigitYear.MatchString(body) || !strings.Contains(body, `"valid_until"`) {
		t.Errorf("stix: %d %s", resp.StatusCode, body)
	}
}

func jsonText(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
