package server

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"forewarn/internal/api"
	"forewarn/internal/fakeseclytics"
	"forewarn/internal/feed"
	"forewarn/internal/testutil"
	"forewarn/internal/testutil/pgtest"
)

const testToken = "tok-SERVE-7c1f0e"

// harness is a real forewarn serve on a random loopback port, with a real
// Seclytics-compatible server beside it.
type harness struct {
	t      *testing.T
	base   string // http://127.0.0.1:port
	admin  string // the first admin key, as printed
	db     string
	fake   *fakeseclytics.Server
	fakeHS *httptest.Server
	cancel context.CancelFunc
	done   chan error
	out    *testutil.Buffer
	logs   *testutil.Buffer
}

var keyRE = regexp.MustCompile(`fwk_[A-Za-z0-9_-]+`)

// startServe starts serve on db (a new file when empty).
func startServe(t *testing.T, db string, fake *fakeseclytics.Server, opts ...func(*Config)) *harness {
	t.Helper()
	if db == "" {
		db = pgtest.Path(t, t.TempDir())
	}
	h := &harness{t: t, db: db, fake: fake, done: make(chan error, 1), out: &testutil.Buffer{}, logs: &testutil.Buffer{}}
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	ready := make(chan net.Addr, 1)
	cfg := Config{
		DB: db, Listen: "127.0.0.1:0", Out: h.out, Grace: 20 * time.Second,
		Log:         slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		FeedOptions: feed.Options{BackoffBase: time.Millisecond},
		Ready:       func(a net.Addr) { ready <- a },
	}
	for _, o := range opts {
		o(&cfg)
	}
	scheme := "http://"
	if cfg.TLSCert != "" {
		scheme = "https://"
	}
	go func() { h.done <- Run(ctx, cfg) }()
	select {
	case a := <-ready:
		h.base = scheme + strings.Replace(a.String(), "0.0.0.0", "127.0.0.1", 1)
	case err := <-h.done:
		t.Fatalf("serve stopped at start: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not start within 30s")
	}
	h.admin = keyRE.FindString(h.out.String())
	t.Cleanup(func() { h.stop() })
	return h
}

// stop shuts serve down (once) and returns Run's error.
func (h *harness) stop() error {
	h.t.Helper()
	if h.cancel == nil {
		return nil
	}
	h.cancel()
	h.cancel = nil
	select {
	case err := <-h.done:
		return err
	case <-time.After(60 * time.Second):
		h.t.Fatal("serve did not stop within 60s")
		return nil
	}
}

// newFake starts a Seclytics-compatible server serving body as dataset A
// (a generated dump of rows rows when body is nil).
func newFake(t *testing.T, rows int, body []byte) *fakeseclytics.Server {
	t.Helper()
	srv, err := fakeseclytics.New(context.Background(), fakeseclytics.Options{Rows: rows, Seed: 11, Token: testToken, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	if body != nil {
		srv.SetBody("a", body)
	}
	return srv
}

func (h *harness) serveFake() string {
	if h.fakeHS == nil {
		h.fakeHS = httptest.NewServer(h.fake)
		h.t.Cleanup(h.fakeHS.Close)
	}
	return h.fakeHS.URL
}

// reply is a decoded response.
type reply struct {
	status int
	header http.Header
	raw    []byte
	body   map[string]any
}

func (r reply) errCode() string {
	e, _ := r.body["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

func (r reply) errField() string {
	e, _ := r.body["error"].(map[string]any)
	c, _ := e["field"].(string)
	return c
}

var client = &http.Client{Timeout: 30 * time.Second}

// do sends a request with key (none when empty) and a JSON body (none
// when nil; a string is sent as is).
func (h *harness) do(method, path, key string, body any) reply {
	h.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			h.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, h.base+path, rd)
	if err != nil {
		h.t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := client.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	r := reply{status: resp.StatusCode, header: resp.Header, raw: raw}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(raw, &r.body); err != nil {
			var arr any
			if json.Unmarshal(raw, &arr) != nil {
				h.t.Fatalf("%s %s: invalid JSON %q", method, path, raw)
			}
		}
	}
	return r
}

// must is do that fails the test unless the status is want.
func (h *harness) must(want int, method, path, key string, body any) reply {
	h.t.Helper()
	r := h.do(method, path, key, body)
	if r.status != want {
		h.t.Fatalf("%s %s: status %d, want %d: %s", method, path, r.status, want, r.raw)
	}
	return r
}

// configure installs the feed against the fake server, keeping everything.
func (h *harness) configure(extra map[string]any) {
	h.t.Helper()
	cfg := map[string]any{"base_url": h.serveFake(), "token": testToken, "threshold": 0, "categories": []string{},
		"context": []string{"Importance", "Detected Categories", "Cluster", "Last Seen At", "Predicted At", "Detected At"}}
	for k, v := range extra {
		cfg[k] = v
	}
	h.must(200, "PUT", "/api/v1/feeds/seclytics", h.admin, cfg)
}

// waitRun polls a run until it is no longer running and returns it.
func (h *harness) waitRun(id float64) map[string]any {
	h.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		r := h.must(200, "GET", "/api/v1/runs/"+itoa(id), h.admin, nil)
		if r.body["status"] != "running" {
			return r.body
		}
		time.Sleep(20 * time.Millisecond)
	}
	h.t.Fatalf("run %v still running after 60s", id)
	return nil
}

func itoa(f float64) string { return strings.TrimSuffix(strings.TrimSuffix(jsonNum(f), ".0"), ".") }

func jsonNum(f float64) string {
	b, _ := json.Marshal(f)
	return string(b)
}

// gz compresses a CSV dump.
func gz(t *testing.T, csv string) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	if _, err := io.WriteString(zw, csv); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// apiRoutes lists the API's routes.
func apiRoutes(t *testing.T) []api.Route {
	t.Helper()
	return api.New(api.Deps{}).Routes()
}

// startBrowserTarget is startServe for the browser test, unless
// $FOREWARN_BROWSER_TARGET names a forewarn binary: then that binary
// serves (a build of another commit, to check which steps fail on it), on
// a new store and a free loopback port, with none of opts (an older build
// has not all of them).
func startBrowserTarget(t *testing.T, fake *fakeseclytics.Server, opts ...func(*Config)) *harness {
	t.Helper()
	bin := os.Getenv("FOREWARN_BROWSER_TARGET")
	if bin == "" {
		return startServe(t, "", fake, opts...)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	h := &harness{t: t, db: pgtest.Path(t, t.TempDir()), fake: fake, done: make(chan error, 1), out: &testutil.Buffer{}, logs: &testutil.Buffer{}, base: "http://" + addr}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "serve", "--db", h.db, "--listen", addr)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 30 * time.Second
	cmd.Stdout, cmd.Stderr = h.out, h.logs
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start %s: %v", bin, err)
	}
	go func() { h.done <- cmd.Wait() }()
	h.cancel = cancel
	t.Cleanup(func() { h.stop() })
	// Ready when it answers: it prints the first admin key before it
	// listens.
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(h.base + "/login")
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s serve did not answer within 30s: %v\n%s", bin, err, h.logs.String())
		}
		select {
		case err := <-h.done:
			t.Fatalf("%s serve stopped at start: %v\n%s", bin, err, h.logs.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	h.admin = keyRE.FindString(h.out.String())
	t.Logf("browser test against %s (%s)", bin, h.base)
	return h
}
