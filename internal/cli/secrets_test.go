package cli

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"forewarn/internal/fakeseclytics"
	"forewarn/internal/testutil"
)

// hygieneToken is recognisable, and has characters that URL encoding and
// base64 would change, so that an encoded leak is caught too.
const hygieneToken = "tok-HYGIENE+/=7c1e0a94f3"

// leakForms are the ways the token could appear in bytes written somewhere.
func leakForms(tok string) [][]byte {
	return [][]byte{
		[]byte(tok),
		[]byte(url.QueryEscape(tok)),
		[]byte(url.PathEscape(tok)),
		[]byte(base64.StdEncoding.EncodeToString([]byte(tok))),
		[]byte(fmt.Sprintf("%q", tok)[1 : len(tok)+1]),
	}
}

func leaks(b []byte) bool {
	for _, f := range leakForms(hygieneToken) {
		if bytes.Contains(b, f) {
			return true
		}
	}
	return false
}

// TestTokenNeverLeaks runs every command, successful and failing runs at
// debug level included, with a recognisable token, then searches every
// byte they wrote: stdout, stderr, every file forewarn created (export,
// lock, database, write-ahead log, key), the run records and every column
// of every table except the encrypted feeds.token. The token must appear
// nowhere; the database file must not hold it in the clear either.
func TestTokenNeverLeaks(t *testing.T) {
	srv, err := fakeseclytics.New(context.Background(), fakeseclytics.Options{Rows: 1500, Seed: 11, Token: hygieneToken, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(func() { hs.Close(); srv.Close() })
	base := hs.URL

	dir := t.TempDir()
	db := filepath.Join(dir, "store.db")
	tf := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tf, []byte(hygieneToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"FOREWARN_DB": db}
	envTok := map[string]string{"FOREWARN_DB": db, "SECLYTICS_ACCESS_TOKEN": hygieneToken}
	debug := []string{"--log-level", "debug", "--threshold", "0", "--categories="}

	type step struct {
		name  string
		fault fakeseclytics.Fault
		env   map[string]string
		args  []string
		code  int
	}
	steps := []step{
		{name: "config stores the token", env: env, args: []string{"config", "seclytics", "--token-file", tf, "--set", "base_url=" + base}},
		{name: "config show", env: env, args: []string{"config", "seclytics"}},
		{name: "config refuses the token as a setting", env: env, args: []string{"config", "seclytics", "--set", "token=" + hygieneToken}, code: 2},
		{name: "run with the stored token", env: env, args: append([]string{"run", "seclytics"}, debug...)},
		{name: "run with the environment's token", env: envTok, args: append([]string{"run", "seclytics", "--normalize"}, debug...)},
		{name: "run with --token-file, dry", env: env, args: append([]string{"run", "seclytics", "--token-file", tf, "--dry-run"}, debug...)},
		{name: "run with --token", env: env, args: append([]string{"run", "seclytics", "--token", hygieneToken, "--dry-run"}, debug...)},
		{name: "401", fault: fakeseclytics.Fault{Status: 401}, env: envTok, args: append([]string{"run", "seclytics"}, debug...), code: 1},
		{name: "403", fault: fakeseclytics.Fault{Status: 403}, env: envTok, args: append([]string{"run", "seclytics", "--dataset", "B"}, debug...), code: 1},
		{name: "503 for ever", fault: fakeseclytics.Fault{Status: 503, RetryAfter: "0"}, env: envTok, args: append([]string{"run", "seclytics", "--tries", "2"}, debug...), code: 1},
		{name: "cut mid-body", fault: fakeseclytics.Fault{CutAfter: 2000}, env: envTok, args: append([]string{"run", "seclytics", "--tries", "1", "--context", "all"}, debug...), code: 1},
		{name: "stall", fault: fakeseclytics.Fault{Stall: true, StallAfter: 100}, env: envTok, args: append([]string{"run", "seclytics", "--idle-timeout", "200ms", "--tries", "1", "--context", "all"}, debug...), code: 1},
		{name: "HTML page", fault: fakeseclytics.Fault{HTML: true}, env: envTok, args: append([]string{"run", "seclytics", "--context", "all"}, debug...), code: 1},
		{name: "corrupt gzip", fault: fakeseclytics.Fault{Mangle: fakeseclytics.MangleCRC}, env: envTok, args: append([]string{"run", "seclytics", "--context", "all"}, debug...), code: 1},
		{name: "nothing listening", env: envTok, args: append([]string{"run", "seclytics", "--base-url", "http://127.0.0.1:1", "--tries", "1"}, debug...), code: 1},
		{name: "bad setting", env: envTok, args: []string{"run", "seclytics", "--threshold", "x"}, code: 2},
		{name: "missing token file", env: env, args: []string{"run", "seclytics", "--token-file", filepath.Join(dir, "nope")}, code: 1},
		{name: "lookup", env: env, args: []string{"lookup", "192.0.2.1", "10.0.0.1"}, code: 1},
		{name: "export", env: env, args: []string{"export", "--format", "jsonl"}},
		{name: "export to a file", env: env, args: []string{"export", "--format", "jsonl", "-o", filepath.Join(dir, "out.jsonl")}},
		{name: "runs", env: env, args: []string{"runs", "--limit", "100"}},
		{name: "runs --json", env: env, args: []string{"runs", "--json", "--limit", "100"}},
		{name: "clear and store the token again", env: env, args: []string{"config", "seclytics", "--clear-token"}},
		{name: "store again", env: env, args: []string{"config", "seclytics", "--token-file", tf}},
	}
	var outputs bytes.Buffer
	for _, s := range steps {
		srv.SetFault(s.fault)
		r := run(t, s.env, s.args...)
		fmt.Fprintf(&outputs, "%s\n%s\n%s\n", s.name, r.out, r.err)
		if r.code != s.code {
			t.Errorf("%s: exit %d, want %d\nstdout: %s\nstderr: %s", s.name, r.code, s.code, r.out, r.err)
		}
		if leaks([]byte(r.out + r.err)) {
			t.Errorf("%s: the token appears in the output:\nstdout: %s\nstderr: %s", s.name, r.out, r.err)
		}
	}
	srv.SetFault(fakeseclytics.Fault{})
	// The failing runs really failed for the reason intended, and the log
	// was at debug level: the search above covered something.
	for _, want := range []string{"Seclytics rejected the access token (HTTP 401)", "HTTP 503", "download interrupted", "the download stalled",
		"neither gzip, CSV nor NDJSON", "incomplete or corrupt", "connection refused", "level=INFO", "level=WARN", "access token      configured"} {
		if !strings.Contains(outputs.String(), want) {
			t.Errorf("no step printed %q", want)
		}
	}

	// The fake Seclytics server itself, given the token on its command line,
	// checked once it listens and has served a request carrying the token
	// (and one with a wrong token, which it refuses): until then it could
	// not have printed anything.
	ctx, cancel := context.WithCancel(context.Background())
	var fout, ferr testutil.Buffer
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, []string{"forewarn", "fake-seclytics", "--rows", "10", "--token", hygieneToken, "--dir", filepath.Join(dir, "fake")},
			&fout, &ferr, func(string) string { return "" })
	}()
	listening := regexp.MustCompile(`listening on (http://127\.0\.0\.1:\d+)`)
	var fakeURL string
	for deadline := time.Now().Add(30 * time.Second); fakeURL == "" && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if m := listening.FindStringSubmatch(fout.String()); m != nil {
			fakeURL = m[1]
		}
		select {
		case err := <-done:
			t.Fatalf("fake-seclytics ended before it listened: %v\n%s", err, ferr.String())
		default:
		}
	}
	if fakeURL == "" {
		cancel()
		t.Fatalf("fake-seclytics did not say where it listens:\n%s\n%s", fout.String(), ferr.String())
	}
	for tok, want := range map[string]int{hygieneToken: 200, "wrong": 401} {
		resp, err := (&http.Client{Timeout: 10 * time.Second}).Get(fakeURL + fakeseclytics.PathA + "?access_token=" + url.QueryEscape(tok))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("fake-seclytics answered %d to token %s, want %d", resp.StatusCode, tok, want)
		}
	}
	cancel()
	if err := <-done; err != nil || leaks([]byte(fout.String()+ferr.String())) {
		t.Errorf("fake-seclytics: %v\n%s\n%s", err, fout.String(), ferr.String())
	}

	// Every file forewarn created.
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if leaks(b) {
			t.Errorf("%s holds the token", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// Every column of every table but the encrypted token, read back as
	// SQLite returns it.
	conn, err := sql.Open("sqlite", "file:"+db+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	tables := queryStrings(t, conn, `SELECT name FROM sqlite_master WHERE type = 'table'`)
	if len(tables) < 4 {
		t.Fatalf("tables %v", tables)
	}
	for _, table := range tables {
		rows, err := conn.Query(`SELECT * FROM "` + table + `"`)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		n := 0
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			n++
			for i, v := range vals {
				if table == "feeds" && cols[i] == "token" {
					if s, _ := v.(string); !strings.HasPrefix(s, "enc:") {
						t.Errorf("feeds.token is %T %q, want an encrypted value", v, v)
					}
					continue
				}
				if leaks(fmt.Appendf(nil, "%s", v)) {
					t.Errorf("%s.%s holds the token", table, cols[i])
				}
			}
		}
		rows.Close()
		if table == "runs" && n < 12 {
			t.Errorf("only %d runs recorded", n)
		}
	}
}

func queryStrings(t *testing.T, db *sql.DB, q string) []string {
	t.Helper()
	rows, err := db.Query(q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

// TestFilesArePrivate checks the modes of what forewarn creates: the
// database, its write-ahead log, the run lock, the token key and exports
// are readable by their owner only, and a folder it creates is 0700.
func TestFilesArePrivate(t *testing.T) {
	base := server(t)
	dir := t.TempDir()
	db := filepath.Join(dir, "f.db")
	tf := filepath.Join(dir, "token")
	os.WriteFile(tf, []byte(token), 0o600)
	env := map[string]string{"FOREWARN_DB": db}
	for _, args := range [][]string{
		{"config", "seclytics", "--token-file", tf, "--set", "base_url=" + base},
		{"run", "seclytics"},
		{"export", "-o", filepath.Join(dir, "out.jsonl")},
	} {
		if r := run(t, env, args...); r.code != 0 {
			t.Fatalf("%v: %+v", args, r)
		}
	}
	files, _ := filepath.Glob(db + "*")
	files = append(files, filepath.Join(dir, "out.jsonl"))
	if len(files) < 4 { // db, key, lock, export (the WAL is folded back on close)
		t.Fatalf("files %v", files)
	}
	for _, f := range files {
		fi, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s has mode %04o: readable by others", filepath.Base(f), fi.Mode().Perm())
		}
	}
	// While a store is open, its WAL and shared-memory files exist: they
	// take the database's mode.
	conn, err := sql.Open("sqlite", "file:"+db+"?_pragma=journal_mode(WAL)")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Exec(`CREATE TABLE IF NOT EXISTS probe (x)`); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{db + "-wal", db + "-shm"} {
		if fi, err := os.Stat(f); err != nil || fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s: %v, %v", filepath.Base(f), fi.Mode(), err)
		}
	}

	fake := filepath.Join(dir, "fake-cache")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_ = Run(ctx, []string{"forewarn", "fake-seclytics", "--rows", "5", "--dir", fake}, &bytes.Buffer{}, &bytes.Buffer{}, func(string) string { return "" })
	if fi, err := os.Stat(fake); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("fake-seclytics --dir: %v, %v; want a 0700 folder", fi.Mode(), err)
	}
}
