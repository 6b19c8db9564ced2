package main

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"forewarn/internal/activity"
	"forewarn/internal/fakeseclytics"
)

// SIGTERM during a run: the run is canceled and rolled back, connections
// drain, the process exits 0, and every log line about the run (JSON here)
// carries run_id and feed.
func TestServeStopsCleanlyOnSIGTERM(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	s := newServer(t)
	db := filepath.Join(t.TempDir(), "serve.db")
	srv := serveProc(t, nil, "--db", db, "--listen", "127.0.0.1:0", "--log-format", "json", "--grace", "20s")
	key := regexp.MustCompile(`fwk_[A-Za-z0-9_-]+`).FindString(srv.stdout.String())
	if key == "" {
		t.Fatalf("serve printed no admin key:\n%s", srv.stdout.String())
	}
	call := func(method, path string, body string, want int) map[string]any {
		t.Helper()
		return srv.call(t, key, method, path, body, want)
	}
	call("PUT", "/api/v1/feeds/seclytics", `{"base_url":"`+s.url+`","token":"`+procToken+`","threshold":0}`, 200)
	s.SetBody("a", largeDumps(t, crashRows).v0)
	s.SetFault(fakeseclytics.Fault{Rate: 50_000})
	id := call("POST", "/api/v1/feeds/seclytics/runs", "", 202)["run_id"].(float64)
	for deadline := time.Now().Add(10 * time.Second); s.sent.Load() == 0 && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}

	stopped := time.Now()
	if err := srv.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-srv.done:
		if srv.err != nil {
			t.Fatalf("serve exited with %v\n%s", srv.err, srv.stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("serve did not stop within 30s of SIGTERM\n%s", srv.stderr.String())
	}
	t.Logf("stopped %s after SIGTERM", time.Since(stopped).Round(time.Millisecond))

	var sawRun bool
	sc := bufio.NewScanner(strings.NewReader(srv.stderr.String()))
	for sc.Scan() {
		var line map[string]any
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("--log-format json wrote a line that is not JSON: %q", sc.Text())
		}
		if msg, _ := line["msg"].(string); strings.HasPrefix(msg, "run ") {
			sawRun = true
			if line["run_id"] != id || line["feed"] != "seclytics" {
				t.Errorf("run log line without run_id %v and feed: %s", id, sc.Text())
			}
		}
	}
	if !sawRun {
		t.Errorf("no log line about the run:\n%s", srv.stderr.String())
	}
	all := runs(t, db)
	if len(all) != 1 || all[0].Status != activity.StatusCanceled || all[0].IndicatorsCreated != 0 {
		t.Fatalf("runs after SIGTERM: %+v", all)
	}
	if out := forewarn(t, 0, "export", "--db", db, "-o", "-").stdout.String(); out != "" {
		t.Fatalf("the canceled run left indicators:\n%.300s", out)
	}
}

// serve refuses export limits that would admit no download, or more per
// key than in all, before it opens the store, naming the flags.
func TestServeRefusesBadExportLimits(t *testing.T) {
	db := filepath.Join(t.TempDir(), "serve.db")
	for _, args := range [][]string{
		{"--max-exports", "0"},
		{"--max-exports", "4", "--max-exports-per-key", "5"},
		{"--max-exports", "65"},
	} {
		p := forewarn(t, 2, append([]string{"serve", "--db", db, "--listen", "127.0.0.1:0"}, args...)...)
		if !strings.Contains(p.stderr.String(), "--max-exports") {
			t.Errorf("serve %v: the error does not name the flag:\n%s", args, p.stderr.String())
		}
	}
	if _, err := os.Stat(db); err == nil {
		t.Error("serve created the store before checking its flags")
	}
}
