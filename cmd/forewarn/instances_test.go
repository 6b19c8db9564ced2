package main

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"forewarn/internal/fakeseclytics"
	"forewarn/internal/testutil/pgtest"
)

// TestTwoServesOnOnePostgres: two forewarn serve processes on one
// PostgreSQL database. The feed's run lock holds across them (a run on one
// refuses a run on the other); one instance is killed with SIGKILL in the
// middle of a scheduled run, and the other takes the feed over at the next
// schedule, marking the dead run abandoned. A schedule never fires twice.
// The feed runs every scheduleInterval, the shortest interval of the
// binary the test builds: the scheduler's real code, on a shorter clock
// than a release allows (a minute).
func TestTwoServesOnOnePostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary, and waits for a schedule")
	}
	dsn := pgtest.DSN(t)
	env := []string{"FOREWARN_KEY_FILE=" + os.Getenv("FOREWARN_KEY_FILE")}
	s := newServer(t)
	s.SetBody("a", largeDumps(t, crashRows).v0)

	serve := func() served {
		t.Helper()
		return serveProc(t, env, "--db", dsn, "--listen", "127.0.0.1:0", "--log-format", "json", "--sync", "200ms")
	}
	a := serve()
	key := regexp.MustCompile(`fwk_[A-Za-z0-9_-]+`).FindString(a.stdout.String())
	b := serve()
	if key == "" || strings.Contains(b.stdout.String(), "fwk_") {
		t.Fatalf("want one admin key, printed by the first instance only:\nfirst: %s\nsecond: %s", a.stdout.String(), b.stdout.String())
	}
	call := func(in served, method, path, body string, want int) map[string]any {
		t.Helper()
		return in.call(t, key, method, path, body, want)
	}
	runsOf := func(in served) []map[string]any {
		t.Helper()
		var out []map[string]any
		for _, r := range call(in, "GET", "/api/v1/runs?feed=seclytics", "", 200)["runs"].([]any) {
			out = append(out, r.(map[string]any))
		}
		return out
	}

	// A slow dump, so that the first scheduled run is still running when
	// it is killed; the shortest interval there is.
	s.SetFault(fakeseclytics.Fault{Rate: 50_000})
	call(a, "PUT", "/api/v1/feeds/seclytics", `{"base_url":"`+s.url+`","token":"`+procToken+`","threshold":0,"frequency":"`+scheduleInterval.String()+`","age_out":"never"}`, 200)
	call(a, "POST", "/api/v1/feeds/seclytics/enable", "", 200)
	var first map[string]any
	for deadline := time.Now().Add(30 * time.Second); first == nil && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if rs := runsOf(a); len(rs) > 0 && rs[0]["status"] == "running" && s.sent.Load() > 0 {
			first = rs[0]
		}
	}
	if first == nil {
		t.Fatalf("the enabled feed did not start a run:\n%s\n%s", a.stderr.String(), b.stderr.String())
	}
	if first["trigger"] != "schedule" {
		t.Errorf("first run's trigger %v, want schedule", first["trigger"])
	}
	// Whichever instance won the first schedule runs it; the other's
	// attempt, now, is refused while it runs.
	runner, other := a, b
	if int(first["pid"].(float64)) == b.cmd.Process.Pid {
		runner, other = b, a
	}
	if int(first["pid"].(float64)) != runner.cmd.Process.Pid {
		t.Fatalf("the run's pid %v is neither instance's (%d, %d)", first["pid"], a.cmd.Process.Pid, b.cmd.Process.Pid)
	}
	refused := call(other, "POST", "/api/v1/feeds/seclytics/runs", "", 409)
	if msg := fmt.Sprint(refused["error"]); !strings.Contains(msg, fmt.Sprint(runner.cmd.Process.Pid)) {
		t.Errorf("the refusal does not name the running process %d: %v", runner.cmd.Process.Pid, refused)
	}

	// Kill the running instance; its session ends and releases the lock.
	if err := runner.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	runner.wait(t, 10*time.Second)
	killedAt := time.Now()
	s.SetFault(fakeseclytics.Fault{})

	// The other instance runs the feed at the next schedule, an interval
	// after the first run started.
	var rs []map[string]any
	for deadline := time.Now().Add(100 * time.Second); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		rs = runsOf(other)
		if len(rs) >= 2 && rs[0]["status"] != "running" {
			break
		}
	}
	t.Logf("taken over %s after the kill", time.Since(killedAt).Round(time.Second))
	if len(rs) != 2 {
		t.Fatalf("%d runs, want the killed one and the takeover: %v\n%s", len(rs), rs, other.stderr.String())
	}
	taken, dead := rs[0], rs[1]
	if taken["status"] != "succeeded" || taken["trigger"] != "schedule" || int(taken["pid"].(float64)) != other.cmd.Process.Pid {
		t.Errorf("takeover run %v: want succeeded, by schedule, on the surviving instance (pid %d)", taken, other.cmd.Process.Pid)
	}
	if dead["status"] != "abandoned" || dead["id"] != first["id"] {
		t.Errorf("killed run %v: want the first run, abandoned", dead)
	}
	// The killed run kept nothing: the takeover created every indicator,
	// updating none, and the store holds exactly those.
	created, _ := taken["indicators_created"].(float64)
	if created == 0 || taken["indicators_updated"] != 0.0 || taken["indicators_unchanged"] != 0.0 {
		t.Errorf("takeover run: %v created, %v updated, %v unchanged; want all created (the killed run must have left nothing)",
			created, taken["indicators_updated"], taken["indicators_unchanged"])
	}
	if n := call(other, "GET", "/api/v1/feeds/seclytics", "", 200)["indicators"]; n != created {
		t.Errorf("the store holds %v indicators, the takeover created %v", n, created)
	}
	// No second fire of the same schedule: once the surviving instance's
	// next run is a schedule interval after the takeover began, the slot
	// it fired is behind it, and no two runs in the log started less than
	// an interval apart (less the scheduler's 5s slack for a timer firing
	// early). A third run, an interval after the takeover, is the next
	// slot's, which a loaded machine may reach before this check.
	takenAt, err := time.Parse(time.RFC3339, taken["started_at"].(string))
	if err != nil {
		t.Fatalf("takeover started_at %v: %v", taken["started_at"], err)
	}
	apart := scheduleInterval - 5*time.Second
	var next time.Time
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if s, ok := call(other, "GET", "/api/v1/feeds/seclytics", "", 200)["next_run"].(string); ok {
			if next, err = time.Parse(time.RFC3339, s); err == nil && next.Sub(takenAt) >= apart {
				break
			}
		}
	}
	if next.Sub(takenAt) < apart {
		t.Fatalf("the surviving instance's next run %v is not an interval after the takeover began (%v)", next, takenAt)
	}
	rs = runsOf(other)
	if len(rs) < 2 || rs[len(rs)-1]["id"] != dead["id"] || rs[len(rs)-2]["id"] != taken["id"] {
		t.Fatalf("once the schedule moved on, the log's first runs are not the killed one and the takeover: %v", rs)
	}
	for i := 0; i+1 < len(rs); i++ {
		later, err1 := time.Parse(time.RFC3339, rs[i]["started_at"].(string))
		earlier, err2 := time.Parse(time.RFC3339, rs[i+1]["started_at"].(string))
		if err1 != nil || err2 != nil || later.Sub(earlier) < apart {
			t.Errorf("runs %v and %v started %s apart, want at least %s: one schedule fired twice", rs[i+1]["id"], rs[i]["id"], later.Sub(earlier), apart)
		}
	}
}
