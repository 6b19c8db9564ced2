package main

// Helpers for the tests that run forewarn as a real process: the crash
// test (crash_test.go) and the concurrency tests (concurrency_test.go).

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"forewarn/internal/activity"
	"forewarn/internal/fakeseclytics"
	"forewarn/internal/testutil"
)

const procToken = "tok-PROC-93b7c2d1e4"

// keepAll are run flags that keep every row and every attribute, so that a
// run writes as much as it can.
var keepAll = []string{"--threshold", "0", "--categories=", "--context", "all"}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
	workDir   string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if workDir != "" {
		os.RemoveAll(workDir)
	}
	os.Exit(code)
}

// scheduleInterval is the shortest run interval of the forewarn the
// process tests build (a release's is config.MinInterval, a minute), so
// that a schedule test waits seconds for the next slot. It stays well above
// the scheduler's slack for a timer firing early (5s).
const scheduleInterval = 15 * time.Second

// binary builds forewarn once per test binary, without the race detector,
// as a user would run it, except for the shortest run interval, which is
// scheduleInterval.
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		workDir, buildErr = os.MkdirTemp("", "forewarn-proc-")
		if buildErr != nil {
			return
		}
		binPath = filepath.Join(workDir, "forewarn")
		// go test puts its own toolchain's bin first on PATH.
		out, err := exec.Command("go", "build", "-o", binPath,
			"-ldflags", "-X forewarn/internal/config.minIntervalOverride="+scheduleInterval.String(), ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// proc is a forewarn process.
type proc struct {
	cmd            *exec.Cmd
	stdout, stderr testutil.Buffer // safe to read while the process writes
	done           chan struct{}
	err            error
	start          time.Time
	took           time.Duration
}

func environ() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SECLYTICS_") && !strings.HasPrefix(kv, "FOREWARN_") {
			env = append(env, kv)
		}
	}
	return append(env, "SECLYTICS_ACCESS_TOKEN="+procToken)
}

// start starts forewarn with args.
func start(t *testing.T, args ...string) *proc {
	t.Helper()
	return startEnv(t, nil, args...)
}

// startEnv starts forewarn with args and extra environment variables.
func startEnv(t *testing.T, extra []string, args ...string) *proc {
	t.Helper()
	return startHooked(t, extra, nil, args...)
}

// startHooked starts forewarn like startEnv and, unless onStderr is nil,
// calls it with each chunk the process writes to stderr, as it arrives:
// a test can react to a progress line without polling for it.
func startHooked(t *testing.T, extra []string, onStderr func(p *proc, chunk []byte), args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(binary(t), args...), done: make(chan struct{})}
	p.cmd.Env = append(environ(), extra...)
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	if onStderr != nil {
		p.cmd.Stderr = hookWriter{&p.stderr, func(b []byte) { onStderr(p, b) }}
	}
	p.start = time.Now()
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = p.cmd.Wait()
		p.took = time.Since(p.start)
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

type hookWriter struct {
	w    io.Writer
	hook func([]byte)
}

func (h hookWriter) Write(b []byte) (int, error) {
	n, err := h.w.Write(b)
	h.hook(b)
	return n, err
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// wait waits for the process to end, at most limit, and returns its exit
// code.
func (p *proc) wait(t *testing.T, limit time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(limit):
		p.cmd.Process.Kill()
		<-p.done
		t.Fatalf("forewarn %s did not finish within %s\nstdout: %s\nstderr: %s", strings.Join(p.cmd.Args[1:], " "), limit, p.stdout.String(), p.stderr.String())
	}
	return p.cmd.ProcessState.ExitCode()
}

// forewarn runs forewarn to completion and fails the test unless it exits
// with want.
func forewarn(t *testing.T, want int, args ...string) *proc {
	t.Helper()
	p := start(t, args...)
	if code := p.wait(t, 3*time.Minute); code != want {
		t.Fatalf("forewarn %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, want, p.stdout.String(), p.stderr.String())
	}
	return p
}

// server is the fake Seclytics API on loopback, counting the body bytes it
// has sent.
type server struct {
	*fakeseclytics.Server
	url  string
	sent atomic.Int64
}

type countingWriter struct {
	http.ResponseWriter
	n *atomic.Int64
}

func (w countingWriter) Write(b []byte) (int, error) {
	n, err := w.ResponseWriter.Write(b)
	w.n.Add(int64(n))
	return n, err
}

// Unwrap lets http.ResponseController reach Flush and Hijack.
func (w countingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func newServer(t *testing.T) *server {
	t.Helper()
	fs, err := fakeseclytics.New(context.Background(), fakeseclytics.Options{Token: procToken})
	if err != nil {
		t.Fatal(err)
	}
	s := &server{Server: fs}
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fs.ServeHTTP(countingWriter{w, &s.sent}, r)
	}))
	t.Cleanup(func() { hs.Close(); fs.Close() })
	s.url = hs.URL
	return s
}

// dumps are two versions of one large dump: v1 re-dates about 10% of the
// rows of v0 (dumpgen epochs), so ingesting v1 over v0 updates indicators
// throughout the store.
type dumps struct {
	v0, v1 []byte
}

var (
	dumpsOnce sync.Once
	theDumps  dumps
)

func largeDumps(t *testing.T, rows int) dumps {
	t.Helper()
	dumpsOnce.Do(func() {
		dir := t.TempDir()
		for i, out := range []*[]byte{&theDumps.v0, &theDumps.v1} {
			file := filepath.Join(dir, fmt.Sprintf("v%d.gz", i))
			forewarn(t, 0, "gen", "--rows", fmt.Sprint(rows), "--seed", "21", "--epoch", fmt.Sprint(i), "-o", file)
			b, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			*out = b
		}
	})
	if theDumps.v1 == nil {
		t.Fatal("generating the dumps failed in an earlier test")
	}
	return theDumps
}

// content is the store's content as `forewarn export` shows it: exact is
// the digest of every byte; data leaves out the indicators' created and
// updated times, which differ between two stores that ingested the same
// dumps at different times.
type content struct {
	exact, data string
	lines       int
}

func export(t *testing.T, db string) (content, *proc) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "export.jsonl")
	p := forewarn(t, 0, "export", "--db", db, "-o", out)
	c := digest(t, out)
	os.Remove(out)
	return c, p
}

func digest(t *testing.T, file string) content {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	exact, data := sha256.New(), sha256.New()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	n := 0
	for sc.Scan() {
		line := sc.Bytes()
		exact.Write(line)
		exact.Write([]byte{'\n'})
		if i := bytes.LastIndex(line, []byte(`,"created_at":`)); i >= 0 {
			line = line[:i]
		}
		data.Write(line)
		data.Write([]byte{'\n'})
		n++
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return content{exact: hex.EncodeToString(exact.Sum(nil)), data: hex.EncodeToString(data.Sum(nil)), lines: n}
}

// runs returns the activity log, newest first.
func runs(t *testing.T, db string) []activity.Run {
	t.Helper()
	p := forewarn(t, 0, "runs", "--db", db, "--json", "--limit", "1000")
	var out []activity.Run
	dec := json.NewDecoder(strings.NewReader(p.stdout.String()))
	for {
		var r activity.Run
		if err := dec.Decode(&r); err == io.EOF {
			return out
		} else if err != nil {
			t.Fatalf("runs --json: %v", err)
		}
		out = append(out, r)
	}
}

// integrityCheck runs SQLite's PRAGMA integrity_check on the database.
func integrityCheck(t *testing.T, db string) {
	t.Helper()
	conn, err := sql.Open("sqlite", "file:"+db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	rows, err := conn.Query(`PRAGMA integrity_check`)
	if err != nil {
		t.Fatalf("integrity_check: %v", err)
	}
	defer rows.Close()
	var msgs []string
	for rows.Next() {
		var m string
		rows.Scan(&m)
		msgs = append(msgs, m)
	}
	if len(msgs) != 1 || msgs[0] != "ok" {
		t.Fatalf("PRAGMA integrity_check: %q", msgs)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// runArgs are the flags of a run against s into db.
func runArgs(t *testing.T, s *server, db string, extra ...string) []string {
	args := append([]string{"run", "seclytics", "--db", db, "--base-url", s.url, "--stage-dir", t.TempDir()}, keepAll...)
	return append(args, extra...)
}

// served is a forewarn serve process and the URL it logged.
type served struct {
	*proc
	base string
}

var servedURL = regexp.MustCompile(`"url":"(http://127\.0\.0\.1:\d+)"`)

// serveProc starts forewarn serve with args (--log-format json among them)
// and extra environment, and waits for it to log its URL.
func serveProc(t *testing.T, extra []string, args ...string) served {
	t.Helper()
	p := startEnv(t, extra, append([]string{"serve"}, args...)...)
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline) && !p.exited(); time.Sleep(20 * time.Millisecond) {
		if m := servedURL.FindStringSubmatch(p.stderr.String()); m != nil {
			return served{p, m[1]}
		}
	}
	t.Fatalf("serve did not log its URL:\n%s", p.stderr.String())
	return served{}
}

// call sends an API request with key; unless want is 0, a different status
// fails the test. It returns the decoded JSON body.
func (s served) call(t *testing.T, key, method, path, body string, want int) map[string]any {
	t.Helper()
	req, _ := http.NewRequest(method, s.base+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if want != 0 && resp.StatusCode != want {
		t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, raw)
	}
	var m map[string]any
	json.Unmarshal(raw, &m)
	return m
}
