package server

import (
	"net/url"
	"testing"
	"time"

	"forewarn/internal/fakeseclytics"
)

// TestTwoInstancesShareOneStore: two serve processes on one store (on
// PostgreSQL in the backend matrix, the way to run several instances).
// What one does the other picks up on its next sync: the feed's schedule
// and the indicators a run ingested (its lookup index is rebuilt); a run
// on one refuses a run on the other with 409 naming the running process.
func TestTwoInstancesShareOneStore(t *testing.T) {
	fast := func(c *Config) { c.Sync = 100 * time.Millisecond }
	fake := newFake(t, 0, gz(t, lookupDump))
	a := startServe(t, "", fake, fast)
	b := startServe(t, a.db, fake, fast)
	b.admin = a.admin

	a.configure(map[string]any{"age_out": "never", "frequency": "24h"})
	a.must(200, "POST", "/api/v1/feeds/seclytics/enable", a.admin, nil)
	// a runs at once (never ran); b learns the schedule from the store,
	// counted from a's run, and does not run it again.
	waitFor(t, "instance b to schedule the feed", func() bool {
		return b.must(200, "GET", "/api/v1/feeds/seclytics", b.admin, nil).body["next_run"] != nil
	})
	var runs []any
	waitFor(t, "the first scheduled run to finish", func() bool {
		runs = a.must(200, "GET", "/api/v1/runs?feed=seclytics", a.admin, nil).body["runs"].([]any)
		return len(runs) > 0 && runs[0].(map[string]any)["status"] != "running"
	})
	ip := "45.33.12.7"
	waitFor(t, "instance b to list an address instance a ingested", func() bool {
		r := b.must(200, "GET", "/api/v1/lookup?ip="+url.QueryEscape(ip), b.admin, nil).body
		return r["verdict"] == "listed"
	})
	nextOf := func(h *harness) time.Time {
		t.Helper()
		n, err := time.Parse(time.RFC3339, h.must(200, "GET", "/api/v1/feeds/seclytics", h.admin, nil).body["next_run"].(string))
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	// Once b's schedule has moved a day past a's run, the slot both
	// instances were due at is behind b: had b fired it, its run would be
	// recorded by now.
	waitFor(t, "instance b to schedule the next run a day after a's", func() bool {
		return time.Until(nextOf(b)) > 23*time.Hour
	})
	runs = b.must(200, "GET", "/api/v1/runs?feed=seclytics", b.admin, nil).body["runs"].([]any)
	if len(runs) != 1 {
		t.Fatalf("%d runs after one schedule on two instances, want 1: %v", len(runs), runs)
	}
	if na, nb := nextOf(a), nextOf(b); na.Sub(nb).Abs() > time.Second || time.Until(na) < 23*time.Hour {
		t.Errorf("next run: instance a says %v, b says %v; want the same, 24h after the run", na, nb)
	}

	// One run at a time across instances.
	fake.SetFault(fakeseclytics.Fault{Rate: 20})
	id := a.must(202, "POST", "/api/v1/feeds/seclytics/runs", a.admin, nil).body["run_id"].(float64)
	waitFor(t, "the slow run to start", func() bool {
		return a.must(200, "GET", "/api/v1/runs/"+itoa(id), a.admin, nil).body["status"] == "running"
	})
	r := b.do("POST", "/api/v1/feeds/seclytics/runs", b.admin, nil)
	if r.status != 409 || r.errCode() == "" {
		t.Errorf("a run on b while a runs: %d %s, want 409", r.status, r.raw)
	}
	a.must(202, "POST", "/api/v1/runs/"+itoa(id)+"/cancel", a.admin, nil)
	a.waitRun(id)
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if ok() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

// TestUISessionsSurviveRestartsAndInstances: a web UI session lives in the
// store: the same cookie works on a second instance and after a restart,
// and signing out on one instance ends it on every one.
func TestUISessionsSurviveRestartsAndInstances(t *testing.T) {
	fake := newFake(t, 10, nil)
	a := startServe(t, "", fake)
	c, csrf := a.uiClient(a.admin)
	b := startServe(t, a.db, fake)
	signedIn := func(h *harness) bool {
		t.Helper()
		resp, err := c.Get(h.base + "/integrations/seclytics")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode == 200 && resp.Request.URL.Path == "/integrations/seclytics"
	}
	if !signedIn(b) {
		t.Fatal("a session from instance a does not work on instance b")
	}
	if err := a.stop(); err != nil {
		t.Fatal(err)
	}
	a2 := startServe(t, a.db, fake)
	if !signedIn(a2) {
		t.Fatal("the session did not survive a restart")
	}
	resp, err := c.PostForm(b.base+"/logout", url.Values{"csrf": {csrf}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if signedIn(a2) || signedIn(b) {
		t.Error("signing out on b did not end the session everywhere")
	}
}
