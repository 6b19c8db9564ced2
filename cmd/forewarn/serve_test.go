package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"forewarn/internal/activity"
	"forewarn/internal/fakeseclytics"
	"forewarn/internal/testutil"
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
	cmd := exec.Command(binary(t), "serve", "--db", db, "--listen", "127.0.0.1:0", "--log-format", "json", "--grace", "20s")
	cmd.Env = environ()
	var stdout, stderr testutil.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		select {
		case <-exited:
		default:
			cmd.Process.Kill()
			<-exited
		}
	})

	urlRE := regexp.MustCompile(`"url":"(http://127\.0\.0\.1:\d+)"`)
	var base string
	for deadline := time.Now().Add(30 * time.Second); base == "" && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if m := urlRE.FindStringSubmatch(stderr.String()); m != nil {
			base = m[1]
		}
	}
	if base == "" {
		t.Fatalf("serve did not log its URL:\n%s", stderr.String())
	}
	key := regexp.MustCompile(`fwk_[A-Za-z0-9_-]+`).FindString(stdout.String())
	if key == "" {
		t.Fatalf("serve printed no admin key:\n%s", stdout.String())
	}
	call := func(method, path string, body string, want int) map[string]any {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != want {
			t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, raw)
		}
		var m map[string]any
		json.Unmarshal(raw, &m)
		return m
	}
	call("PUT", "/api/v1/feeds/seclytics", `{"base_url":"`+s.url+`","token":"`+procToken+`","threshold":0}`, 200)
	s.SetBody("a", largeDumps(t, crashRows).v0)
	s.SetFault(fakeseclytics.Fault{Rate: 50_000})
	id := call("POST", "/api/v1/feeds/seclytics/runs", "", 202)["run_id"].(float64)
	for deadline := time.Now().Add(10 * time.Second); s.sent.Load() == 0 && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}

	stopped := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-exited:
		if waitErr != nil {
			t.Fatalf("serve exited with %v\n%s", waitErr, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("serve did not stop within 30s of SIGTERM\n%s", stderr.String())
	}
	t.Logf("stopped %s after SIGTERM", time.Since(stopped).Round(time.Millisecond))

	var sawRun bool
	sc := bufio.NewScanner(strings.NewReader(stderr.String()))
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
		t.Errorf("no log line about the run:\n%s", stderr.String())
	}
	all := runs(t, db)
	if len(all) != 1 || all[0].Status != activity.StatusCanceled || all[0].IndicatorsCreated != 0 {
		t.Fatalf("runs after SIGTERM: %+v", all)
	}
	if out := forewarn(t, 0, "export", "--db", db, "-o", "-").stdout.String(); out != "" {
		t.Fatalf("the canceled run left indicators:\n%.300s", out)
	}
}
