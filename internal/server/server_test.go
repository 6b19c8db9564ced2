package server

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"forewarn/internal/activity"
	"forewarn/internal/fakeseclytics"
	"forewarn/internal/store"
)

// A small dump with known netblocks: two listed IPs in 45.33.12.0/24, one
// in the IPv6 2a03:2880:10::/48, and one in a /16 that contains the /24.
const lookupDump = `ip,predicted_at,predicted_netblock,predicted_category,cluster,detected_by,detected_identifiers,detected_categories,detected_at,last_seen_at,importance
45.33.12.7,2026-01-01T00:00:00,45.33.12.0/24,malware,c1,sslbl,emotet,malware,2026-01-10T00:00:00,2026-02-01T00:00:00,80
45.33.12.9,2026-01-02T00:00:00,45.33.12.0/24,phishing,c2,openphish,kit,phishing,2026-01-11T00:00:00,2026-02-02T00:00:00,55
45.33.200.1,2026-01-03T00:00:00,45.33.0.0/16,botnet,c4,abuse.ch,mirai,botnet,2026-01-12T00:00:00,2026-02-03T00:00:00,40
2a03:2880:10::5,2026-01-04T00:00:00,2a03:2880:10::/48,botnet,c3,abuse.ch,mirai,botnet,2026-01-13T00:00:00,2026-02-04T00:00:00,90
`

func TestFirstStartCreatesAnAdminKeyOnce(t *testing.T) {
	h := startServe(t, "", newFake(t, 10, nil))
	if h.admin == "" || !strings.Contains(h.out.String(), "forewarn apikey create") {
		t.Fatalf("first start did not print an admin key and how to make more:\n%s", h.out)
	}
	h.must(200, "GET", "/api/v1/feeds", h.admin, nil)
	if err := h.stop(); err != nil {
		t.Fatal(err)
	}
	h2 := startServe(t, h.db, h.fake)
	if h2.admin != "" {
		t.Fatalf("second start printed another key: %s", h2.out)
	}
	h2.must(200, "GET", "/api/v1/feeds", h.admin, nil)
}

func TestFeedLifecycle(t *testing.T) {
	fake := newFake(t, 2000, nil)
	h := startServe(t, "", fake)

	// Not configured yet.
	r := h.must(200, "GET", "/api/v1/feeds/seclytics", h.admin, nil)
	if r.body["installed"] != false || r.body["enabled"] != false {
		t.Fatalf("fresh feed: %s", r.raw)
	}
	h.must(404, "POST", "/api/v1/feeds/seclytics/enable", h.admin, nil)

	// Configure: validated, the bad field named, the token write-only.
	bad := h.must(400, "PUT", "/api/v1/feeds/seclytics", h.admin, map[string]any{"threshold": 101})
	if bad.errCode() != "bad_request" || bad.errField() != "threshold" {
		t.Fatalf("bad threshold: %s", bad.raw)
	}
	if f := h.must(400, "PUT", "/api/v1/feeds/seclytics", h.admin, map[string]any{"colour": "red"}).errField(); f != "colour" {
		t.Fatalf("unknown field named %q", f)
	}
	if f := h.must(400, "PUT", "/api/v1/feeds/seclytics", h.admin, map[string]any{"threshold": "high"}).errField(); f != "threshold" {
		t.Fatalf("wrong type named %q", f)
	}
	if f := h.must(400, "PUT", "/api/v1/feeds/seclytics", h.admin, map[string]any{"frequency": "sometimes"}).errField(); f != "frequency" {
		t.Fatalf("bad frequency named %q", f)
	}
	h.configure(nil)
	r = h.must(200, "GET", "/api/v1/feeds/seclytics", h.admin, nil)
	if strings.Contains(string(r.raw), testToken) {
		t.Fatal("GET shows the token")
	}
	cfg := r.body["config"].(map[string]any)
	if tok := cfg["token"].(map[string]any); tok["configured"] != true {
		t.Fatalf("token shown as %v", tok)
	}
	if r.body["installed"] != true || r.body["enabled"] != false || r.body["next_run"] != nil {
		t.Fatalf("configured feed: %s", r.raw)
	}

	// Enabling a feed that never ran runs it soon, from the schedule.
	r = h.must(200, "POST", "/api/v1/feeds/seclytics/enable", h.admin, nil)
	var first map[string]any
	deadline := time.Now().Add(30 * time.Second)
	for first == nil && time.Now().Before(deadline) {
		runs := h.must(200, "GET", "/api/v1/runs?feed=seclytics&status=succeeded", h.admin, nil).body["runs"].([]any)
		if len(runs) > 0 {
			first = runs[0].(map[string]any)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if first == nil || first["trigger"] != "schedule" {
		t.Fatalf("no scheduled run after enabling: %v\n%s", first, h.logs)
	}
	r = h.must(200, "GET", "/api/v1/feeds/seclytics", h.admin, nil)
	next, err := time.Parse(time.RFC3339, fmt.Sprint(r.body["next_run"]))
	if err != nil || next.Before(time.Now().Add(23*time.Hour)) || next.After(time.Now().Add(25*time.Hour)) {
		t.Fatalf("next run %v (%v), want about 24h from now", r.body["next_run"], err)
	}
	indicators := r.body["indicators"].(float64)
	if indicators == 0 {
		t.Fatal("the scheduled run stored no indicators")
	}

	// A manual run with a window.
	r = h.must(202, "POST", "/api/v1/feeds/seclytics/runs", h.admin, map[string]any{"since": "2020-01-01", "until": "2021-01-01T00:00:00Z"})
	manual := h.waitRun(r.body["run_id"].(float64))
	if manual["trigger"] != "manual" || manual["since"] != "2020-01-01T00:00:00Z" || manual["until"] != "2021-01-01T00:00:00Z" {
		t.Fatalf("manual run: %v", manual)
	}
	if f := h.must(400, "POST", "/api/v1/feeds/seclytics/runs", h.admin, map[string]any{"since": "yesterday"}).errField(); f != "since" {
		t.Fatalf("bad since named %q", f)
	}

	// A slow download: a second run is refused with 409, then the first is
	// canceled and leaves the store as it was.
	fake.SetBody("a", gz(t, lookupDump))
	fake.SetFault(fakeseclytics.Fault{Rate: 20})
	r = h.must(202, "POST", "/api/v1/feeds/seclytics/runs", h.admin, nil)
	slow := r.body["run_id"].(float64)
	live := h.must(200, "GET", "/api/v1/runs/"+itoa(slow), h.admin, nil)
	if live.body["status"] != "running" || live.body["progress"] == nil {
		t.Fatalf("a running run shows no live progress: %s", live.raw)
	}
	conflict := h.must(409, "POST", "/api/v1/feeds/seclytics/runs", h.admin, nil)
	if conflict.errCode() != "conflict" || !strings.Contains(string(conflict.raw), "already in progress") {
		t.Fatalf("overlap: %s", conflict.raw)
	}
	if running := h.must(200, "GET", "/api/v1/feeds", h.admin, nil).body["feeds"].([]any)[0].(map[string]any)["running_run_id"]; running != slow {
		t.Fatalf("running_run_id %v, want %v", running, slow)
	}
	// Disabling stops the schedule but not the run in progress.
	if r := h.must(200, "POST", "/api/v1/feeds/seclytics/disable", h.admin, nil); r.body["next_run"] != nil {
		t.Fatalf("disabled feed still scheduled: %s", r.raw)
	}
	time.Sleep(100 * time.Millisecond)
	if st := h.must(200, "GET", "/api/v1/runs/"+itoa(slow), h.admin, nil).body["status"]; st != "running" {
		t.Fatalf("disabling the feed stopped its run: %v", st)
	}
	h.must(200, "POST", "/api/v1/feeds/seclytics/enable", h.admin, nil)
	h.must(202, "POST", "/api/v1/runs/"+itoa(slow)+"/cancel", h.admin, nil)
	if done := h.waitRun(slow); done["status"] != "canceled" {
		t.Fatalf("canceled run: %v", done)
	}
	h.must(409, "POST", "/api/v1/runs/"+itoa(slow)+"/cancel", h.admin, nil)
	fake.SetFault(fakeseclytics.Fault{})
	if n := h.must(200, "GET", "/api/v1/feeds/seclytics", h.admin, nil).body["indicators"]; n != indicators {
		t.Fatalf("after the canceled run %v indicators, want %v", n, indicators)
	}

	// Disable: the schedule stops.
	r = h.must(200, "POST", "/api/v1/feeds/seclytics/disable", h.admin, nil)
	if r.body["enabled"] != false || r.body["next_run"] != nil {
		t.Fatalf("disabled feed: %s", r.raw)
	}

	// Uninstall without purge keeps the indicators; with purge removes them.
	r = h.must(200, "DELETE", "/api/v1/feeds/seclytics", h.admin, nil)
	if r.body["indicators_deleted"] != 0.0 {
		t.Fatalf("uninstall without purge: %s", r.raw)
	}
	r = h.must(200, "GET", "/api/v1/feeds/seclytics", h.admin, nil)
	if r.body["installed"] != false || r.body["indicators"] != indicators {
		t.Fatalf("after uninstall: %s", r.raw)
	}
	if tok := r.body["config"].(map[string]any)["token"].(map[string]any); tok["configured"] != false {
		t.Fatal("uninstall kept the token")
	}
	h.configure(nil)
	r = h.must(200, "DELETE", "/api/v1/feeds/seclytics?purge=true", h.admin, nil)
	if r.body["indicators_deleted"] != indicators {
		t.Fatalf("purge deleted %v, want %v", r.body["indicators_deleted"], indicators)
	}
	if n := h.must(200, "GET", "/api/v1/feeds/seclytics", h.admin, nil).body["indicators"]; n != 0.0 {
		t.Fatalf("%v indicators after purge", n)
	}
	// The activity log survives an uninstall.
	if runs := h.must(200, "GET", "/api/v1/runs", h.admin, nil).body["runs"].([]any); len(runs) != 3 {
		t.Fatalf("%d runs in the log after uninstall, want 3", len(runs))
	}
}

func TestLookups(t *testing.T) {
	h := startServe(t, "", newFake(t, 10, gz(t, lookupDump)))
	// The default context does not select Predicted Netblock: lookups
	// still find netblocks.
	h.configure(map[string]any{"context": []string{"Importance", "Detected Categories", "Cluster"}})
	run := h.must(202, "POST", "/api/v1/feeds/seclytics/runs", h.admin, nil)
	if r := h.waitRun(run.body["run_id"].(float64)); r["status"] != "succeeded" {
		t.Fatalf("run: %v", r)
	}
	read := h.createKey("analyst", "read")
	look := func(ip string) map[string]any {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			r := h.must(200, "GET", "/api/v1/lookup?ip="+url.QueryEscape(ip), read, nil).body
			// The netblock index is rebuilt in the background after a run.
			if len(r["netblocks"].([]any)) > 0 || time.Now().After(deadline) || ip == "8.8.8.8" {
				return r
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	listed := look("45.33.12.7")
	if listed["verdict"] != "listed" || listed["indicator"] == nil {
		t.Fatalf("listed: %v", listed)
	}
	blocks := listed["netblocks"].([]any)
	if len(blocks) != 2 {
		t.Fatalf("netblocks of 45.33.12.7: %v, want the /24 and the /16", blocks)
	}
	b24 := blocks[0].(map[string]any)
	if b24["netblock"] != "45.33.12.0/24" || b24["listed"] != 2.0 || b24["max_importance"] != 80.0 ||
		fmt.Sprint(b24["categories"]) != "[malware phishing]" || fmt.Sprint(b24["clusters"]) != "[c1 c2]" {
		t.Fatalf("the /24's summary: %v", b24)
	}
	if b16 := blocks[1].(map[string]any); b16["netblock"] != "45.33.0.0/16" || b16["listed"] != 1.0 {
		t.Fatalf("the /16's summary: %v", b16)
	}
	if r := look("45.33.12.200"); r["verdict"] != "in-predicted-netblock" || r["indicator"] != nil || len(r["netblocks"].([]any)) != 2 {
		t.Fatalf("in netblock: %v", r)
	}
	if r := look("8.8.8.8"); r["verdict"] != "unknown" || len(r["netblocks"].([]any)) != 0 {
		t.Fatalf("unknown: %v", r)
	}
	if r := look("2a03:2880:10::5"); r["verdict"] != "listed" {
		t.Fatalf("IPv6 listed: %v", r)
	}
	if r := look("2a03:2880:10:ffff::1"); r["verdict"] != "in-predicted-netblock" {
		t.Fatalf("IPv6 in netblock: %v", r)
	}
	if f := h.must(400, "GET", "/api/v1/lookup?ip=banana", read, nil).errField(); f != "ip" {
		t.Fatalf("bad ip named %q", f)
	}

	batch := h.must(200, "POST", "/api/v1/lookup", read, map[string]any{"ips": []string{"45.33.12.7", "45.33.12.200", "8.8.8.8", "2a03:2880:10::5", "::ffff:45.33.12.9"}})
	var verdicts []string
	for _, r := range batch.body["results"].([]any) {
		verdicts = append(verdicts, r.(map[string]any)["verdict"].(string))
	}
	if want := "listed in-predicted-netblock unknown listed listed"; strings.Join(verdicts, " ") != want {
		t.Fatalf("batch verdicts %v, want %s", verdicts, want)
	}
	if f := h.must(400, "POST", "/api/v1/lookup", read, map[string]any{"ips": []string{"1.2.3.4", "nope"}}).errField(); f != "ips[1]" {
		t.Fatalf("bad batch entry named %q", f)
	}
	tooMany := make([]string, 10001)
	for i := range tooMany {
		tooMany[i] = "1.2.3.4"
	}
	h.must(400, "POST", "/api/v1/lookup", read, map[string]any{"ips": tooMany})
}

func (h *harness) createKey(name, role string) string {
	h.t.Helper()
	r := h.must(201, "POST", "/api/v1/apikeys", h.admin, map[string]any{"name": name, "role": role})
	return r.body["key"].(string)
}

// Every endpoint refuses a missing or revoked key, admin endpoints refuse
// a read key, and read endpoints accept one.
func TestEveryEndpointChecksItsRole(t *testing.T) {
	h := startServe(t, "", newFake(t, 10, gz(t, lookupDump)))
	h.configure(nil)
	run := h.must(202, "POST", "/api/v1/feeds/seclytics/runs", h.admin, nil)
	h.waitRun(run.body["run_id"].(float64))
	read := h.createKey("reader", "read")
	revoked := h.createKey("gone", "admin")
	h.must(200, "DELETE", "/api/v1/apikeys/gone", h.admin, nil)

	fill := strings.NewReplacer("{format}", "edl", "{feed}", "seclytics", "{id}", itoa(run.body["run_id"].(float64)), "{value}", "45.33.12.7", "{key}", "nobody", "{name}", "nobody", "{file}", "manifest.json")
	bodies := map[string]any{
		"PUT /api/v1/feeds/{feed}":          map[string]any{"threshold": 10},
		"POST /api/v1/feeds/{feed}/runs":    map[string]any{"dry_run": true},
		"PATCH /api/v1/indicators/{value}":  map[string]any{"status": "Review"},
		"POST /api/v1/lookup":               map[string]any{"ips": []string{"45.33.12.7"}},
		"POST /api/v1/apikeys":              map[string]any{"name": "x", "role": "read"},
		"POST /api/v1/allowlist":            map[string]any{"cidr": "192.0.2.0/24", "comment": "test"},
		"GET /api/v1/lookup":                nil,
		"DELETE /api/v1/feeds/{feed}":       nil,
		"POST /api/v1/runs/{id}/cancel":     nil,
		"POST /api/v1/feeds/{feed}/enable":  nil,
		"POST /api/v1/feeds/{feed}/disable": nil,
	}
	routes := apiRoutes(t)
	if len(routes) < 20 {
		t.Fatalf("only %d routes", len(routes))
	}
	for _, rt := range routes {
		path := fill.Replace(rt.Path)
		if rt.Path == "/api/v1/lookup" && rt.Method == "GET" {
			path += "?ip=45.33.12.7"
		}
		body := bodies[rt.Method+" "+rt.Path]
		t.Run(rt.Method+" "+rt.Path, func(t *testing.T) {
			if rt.Role == "" {
				if r := h.do(rt.Method, path, "", body); r.status != 200 {
					t.Fatalf("without a key: %d %s", r.status, r.raw)
				}
				return
			}
			if r := h.do(rt.Method, path, "", body); r.status != 401 || r.errCode() != "unauthorized" {
				t.Fatalf("without a key: %d %s", r.status, r.raw)
			}
			if r := h.do(rt.Method, path, "fwk_not-a-real-key", body); r.status != 401 {
				t.Fatalf("with a wrong key: %d %s", r.status, r.raw)
			}
			if r := h.do(rt.Method, path, revoked, body); r.status != 401 {
				t.Fatalf("with a revoked key: %d %s", r.status, r.raw)
			}
			r := h.do(rt.Method, path, read, body)
			if rt.Role != "read" { // admin, or sightings: a read key may not write
				if r.status != 403 || r.errCode() != "forbidden" {
					t.Fatalf("%s endpoint with a read key: %d %s", rt.Role, r.status, r.raw)
				}
				return
			}
			if r.status >= 400 {
				t.Fatalf("read endpoint with a read key: %d %s", r.status, r.raw)
			}
		})
	}
	// Admin endpoints work with the admin key (the rest of the suite
	// exercises each); here the ones that do not appear elsewhere.
	keys := h.must(200, "GET", "/api/v1/apikeys", h.admin, nil)
	if strings.Contains(string(keys.raw), read) || strings.Count(string(keys.raw), `"name"`) != 3 {
		t.Fatalf("key listing: %s", keys.raw)
	}
	h.must(404, "DELETE", "/api/v1/apikeys/nobody", h.admin, nil)
	if r := h.do("GET", "/api/v1/nothing-here", read, nil); r.status != 404 || r.errCode() != "not_found" {
		t.Fatalf("unknown endpoint: %d %s", r.status, r.raw)
	}
}

func TestIndicatorsSearchAndStatus(t *testing.T) {
	h := startServe(t, "", newFake(t, 10, gz(t, lookupDump)))
	h.configure(nil)
	run := h.must(202, "POST", "/api/v1/feeds/seclytics/runs", h.admin, nil)
	h.waitRun(run.body["run_id"].(float64))

	values := func(q string) []string {
		t.Helper()
		var out []string
		cursor := ""
		for {
			r := h.must(200, "GET", "/api/v1/indicators?limit=1&"+q+"&cursor="+url.QueryEscape(cursor), h.admin, nil)
			for _, ind := range r.body["indicators"].([]any) {
				out = append(out, ind.(map[string]any)["value"].(string))
			}
			next, _ := r.body["next"].(string)
			if next == "" {
				return out
			}
			cursor = next
		}
	}
	for q, want := range map[string]string{
		"":                         "45.33.12.7 45.33.12.9 45.33.200.1 2a03:2880:10::5",
		"cidr=45.33.12.0/24":       "45.33.12.7 45.33.12.9",
		"cidr=2a03:2880::/32":      "2a03:2880:10::5",
		"q=33.12":                  "45.33.12.7 45.33.12.9",
		"category=botnet":          "45.33.200.1 2a03:2880:10::5",
		"min_importance=60":        "45.33.12.7 2a03:2880:10::5",
		"sort=-importance":         "2a03:2880:10::5 45.33.12.7 45.33.12.9 45.33.200.1",
		"source=Seclytics":         "45.33.12.7 45.33.12.9 45.33.200.1 2a03:2880:10::5",
		"status=Review":            "",
		"updated_since=2000-01-01": "45.33.12.7 45.33.12.9 45.33.200.1 2a03:2880:10::5",
	} {
		if got := strings.Join(values(q), " "); got != want {
			t.Errorf("?%s: %q, want %q", q, got, want)
		}
	}
	for q, field := range map[string]string{"cidr=nope": "cidr", "min_importance=x": "min_importance", "status=Bad": "status", "limit=0": "limit", "cursor=zzz": "cursor"} {
		if f := h.must(400, "GET", "/api/v1/indicators?"+q, h.admin, nil).errField(); f != field {
			t.Errorf("?%s names field %q, want %q", q, f, field)
		}
	}

	ind := h.must(200, "GET", "/api/v1/indicators/45.33.12.7", h.admin, nil)
	attrs := ind.body["attributes"].([]any)
	if len(attrs) == 0 {
		t.Fatal("no attributes")
	}
	for _, a := range attrs {
		m := a.(map[string]any)
		if m["source"] != "Seclytics" || m["created_at"] == nil || m["updated_at"] == nil {
			t.Fatalf("attribute without source or times: %v", m)
		}
	}
	h.must(404, "GET", "/api/v1/indicators/1.1.1.1", h.admin, nil)
	h.must(400, "GET", "/api/v1/indicators/not-an-ip", h.admin, nil)

	// A person's decision survives the next run.
	if f := h.must(400, "PATCH", "/api/v1/indicators/45.33.12.7", h.admin, map[string]any{"status": "Evil"}).errField(); f != "status" {
		t.Fatalf("bad status named %q", f)
	}
	p := h.must(200, "PATCH", "/api/v1/indicators/45.33.12.7", h.admin, map[string]any{"status": "Whitelisted"})
	if p.body["status"] != "Whitelisted" {
		t.Fatalf("patched: %s", p.raw)
	}
	h.fake.SetBody("a", gz(t, strings.ReplaceAll(lookupDump, "2026-02-01T00:00:00", "2026-03-01T00:00:00")))
	run = h.must(202, "POST", "/api/v1/feeds/seclytics/runs", h.admin, nil)
	if r := h.waitRun(run.body["run_id"].(float64)); r["status"] != "succeeded" || r["indicators_updated"] == 0.0 {
		t.Fatalf("second run: %v", r)
	}
	if st := h.must(200, "GET", "/api/v1/indicators/45.33.12.7", h.admin, nil).body["status"]; st != "Whitelisted" {
		t.Fatalf("after the next run the status is %v, want Whitelisted", st)
	}
	if got := strings.Join(values("status=Whitelisted"), " "); got != "45.33.12.7" {
		t.Fatalf("status=Whitelisted: %q", got)
	}
}

func TestMetrics(t *testing.T) {
	h := startServe(t, "", newFake(t, 10, gz(t, lookupDump)))
	h.configure(map[string]any{"threshold": 50, "age_out": "never"}) // the dump's dates are years old
	run := h.must(202, "POST", "/api/v1/feeds/seclytics/runs", h.admin, nil)
	h.waitRun(run.body["run_id"].(float64))
	h.must(200, "GET", "/api/v1/indicators/45.33.12.7", h.admin, nil)
	var text string
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		text = string(h.must(200, "GET", "/metrics", "", nil).raw)
		if strings.Contains(text, `forewarn_indicators{status="Active"} 3`) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, want := range []string{
		`forewarn_feed_runs_total{feed="seclytics",status="succeeded"} 1`,
		`forewarn_feed_rows_total{feed="seclytics",outcome="kept"} 3`,
		`forewarn_feed_rows_total{feed="seclytics",outcome="below_threshold"} 1`,
		`forewarn_feed_rows_total{feed="seclytics",outcome="invalid"} 0`,
		`forewarn_feed_last_success_timestamp_seconds{feed="seclytics"}`,
		`forewarn_feed_run_duration_seconds_count{feed="seclytics"} 1`,
		`forewarn_indicators{status="Active"} 3`,
		`forewarn_http_request_duration_seconds_count{code="200",method="GET",route="GET /api/v1/indicators/{value}"} 1`,
		`go_goroutines`,
		`process_resident_memory_bytes`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// Shutting down during a run cancels it: the store is unchanged and the
// run recorded as canceled.
func TestShutdownDuringARunCancelsIt(t *testing.T) {
	fake := newFake(t, 10, gz(t, lookupDump))
	h := startServe(t, "", fake)
	h.configure(nil)
	first := h.must(202, "POST", "/api/v1/feeds/seclytics/runs", h.admin, nil)
	h.waitRun(first.body["run_id"].(float64))
	before := h.must(200, "GET", "/api/v1/indicators", h.admin, nil).raw

	fake.SetBody("a", gz(t, strings.ReplaceAll(lookupDump, ",80\n", ",99\n")))
	fake.SetFault(fakeseclytics.Fault{Rate: 20})
	slow := h.must(202, "POST", "/api/v1/feeds/seclytics/runs", h.admin, nil).body["run_id"].(float64)
	time.Sleep(200 * time.Millisecond)
	start := time.Now()
	if err := h.stop(); err != nil {
		t.Fatalf("serve: %v", err)
	}
	if d := time.Since(start); d > 15*time.Second {
		t.Fatalf("shutdown took %s", d)
	}
	if !strings.Contains(h.logs.String(), "run_id="+itoa(slow)) {
		t.Errorf("no log line carries run_id=%v:\n%s", slow, h.logs)
	}
	st, err := store.Open(context.Background(), h.db)
	if err != nil {
		t.Fatal(err)
	}
	r, err := st.Run(context.Background(), int64(slow))
	st.Close()
	if err != nil || r.Status != activity.StatusCanceled {
		t.Fatalf("run after shutdown: %+v, %v", r, err)
	}
	fake.SetFault(fakeseclytics.Fault{})
	h2 := startServe(t, h.db, fake)
	if after := h2.must(200, "GET", "/api/v1/indicators", h.admin, nil).raw; string(after) != string(before) {
		t.Fatalf("the canceled run changed the store:\nbefore %s\nafter  %s", before, after)
	}
}
