package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"forewarn/internal/testutil/pgtest"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"forewarn/internal/buildinfo"
	"forewarn/internal/fakeseclytics"
)

const token = "tok-CLI-0123456789abcdef"

type result struct {
	out, err string
	code     int
}

func run(t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	err := Run(context.Background(), append([]string{"forewarn"}, args...), &out, &errb, func(k string) string { return env[k] })
	code := 0
	if err != nil {
		code = 1
		var ee *ExitError
		if errors.As(err, &ee) {
			code = ee.Code
		}
		errb.WriteString(err.Error())
	}
	return result{out.String(), errb.String(), code}
}

func server(t *testing.T) string {
	t.Helper()
	srv, err := fakeseclytics.New(context.Background(), fakeseclytics.Options{Rows: 3000, Seed: 5, Token: token, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(func() { hs.Close(); srv.Close() })
	return hs.URL
}

func TestRunLookupExportRunsConfig(t *testing.T) {
	base := server(t)
	dir := t.TempDir()
	db := pgtest.Path(t, dir)
	env := map[string]string{"SECLYTICS_ACCESS_TOKEN": token, "FOREWARN_DB": db}
	var all []result

	r := run(t, env, "run", "seclytics", "--base-url", base, "--threshold", "0", "--categories=", "--normalize", "--log-level", "debug")
	all = append(all, r)
	if r.code != 0 || !strings.Contains(r.out, "run 1 of seclytics: succeeded") || !strings.Contains(r.out, "indicators") {
		t.Fatalf("run: %+v", r)
	}

	// export: one object per indicator, in address order, attributes sorted.
	r = run(t, env, "export", "--format", "jsonl")
	all = append(all, r)
	lines := strings.Split(strings.TrimSpace(r.out), "\n")
	if r.code != 0 || len(lines) < 1000 {
		t.Fatalf("export: %d lines, %+v", len(lines), r.err)
	}
	var first struct {
		Type, Value, Status string
		Sources             []string
		Attributes          []struct{ Name, Value, Source string }
		CreatedAt           string `json:"created_at"`
	}
	if err := json.Unmarshal([]byte(lines[0]), &first); err != nil {
		t.Fatal(err)
	}
	if first.Type != "IP Address" || first.Status != "Active" || first.Sources[0] != "Seclytics" || first.CreatedAt == "" || len(first.Attributes) == 0 {
		t.Errorf("first line: %s", lines[0])
	}
	for i := 1; i < len(first.Attributes); i++ {
		a, b := first.Attributes[i-1], first.Attributes[i]
		if a.Name > b.Name || (a.Name == b.Name && a.Value > b.Value) {
			t.Errorf("attributes not sorted: %v", first.Attributes)
		}
	}

	// lookup: listed, unknown, and exit 1 when every address is unknown.
	r = run(t, env, "lookup", first.Value, "192.0.2.1")
	all = append(all, r)
	if r.code != 0 || !strings.Contains(r.out, first.Value+": listed\n"+first.Value+"  IP Address  Active") ||
		!strings.Contains(r.out, "192.0.2.1: unknown") || !strings.Contains(r.out, " listed, max importance ") {
		t.Errorf("lookup: %+v", r)
	}
	if r = run(t, env, "lookup", "192.0.2.1"); r.code != 1 {
		t.Errorf("lookup of an unknown IP exited %d, want 1", r.code)
	}
	// An unlisted address in the listed one's predicted netblock is found
	// by its netblock, although the default context does not keep
	// Predicted Netblock as an attribute.
	r = run(t, env, "lookup", "--json", first.Value)
	var res struct {
		Verdict   string
		Netblocks []struct{ Netblock string }
	}
	if err := json.Unmarshal([]byte(r.out), &res); err != nil || res.Verdict != "listed" || len(res.Netblocks) == 0 {
		t.Fatalf("lookup --json: %v %+v", err, r)
	}
	// Its indicator is the export's, in the shape lookup --json has always
	// had: one attribute entry per list item, each with its times.
	var lk struct {
		Indicator struct {
			Type, Value, Status string
			Sources             []string
			Attributes          []struct{ Name, Value, Source string }
		}
	}
	if err := json.Unmarshal([]byte(r.out), &lk); err != nil {
		t.Fatal(err)
	}
	exported := lk.Indicator
	exported.Type, exported.Value, exported.Status, exported.Sources, exported.Attributes = first.Type, first.Value, first.Status, first.Sources, first.Attributes
	if diff := cmp.Diff(exported, lk.Indicator); diff != "" || !strings.Contains(r.out, `"indicator":{"type":"IP Address","value":"`+first.Value+`"`) ||
		strings.Count(r.out, `"created_at"`) != len(first.Attributes)+1 {
		t.Errorf("lookup --json's indicator differs from the export's (-export +lookup):\n%s\n%s", diff, r.out)
	}
	nb := netip.MustParsePrefix(res.Netblocks[0].Netblock)
	var inBlock []string
	for a := nb.Addr(); nb.Contains(a) && len(inBlock) < 256; a = a.Next() {
		inBlock = append(inBlock, a.String())
	}
	r = run(t, env, append([]string{"lookup", "--json"}, inBlock...)...)
	if r.code != 0 || !strings.Contains(r.out, `"verdict":"in-predicted-netblock"`) || strings.Count(r.out, "\n") != len(inBlock) {
		t.Errorf("lookup of %s: %+v", nb, r)
	}

	// The second run is unchanged (ETag); the log shows both, newest first.
	all = append(all, run(t, env, "run", "seclytics", "--base-url", base, "--threshold", "0", "--categories=", "--normalize"))
	r = run(t, env, "runs")
	all = append(all, r)
	if i, j := strings.Index(r.out, "unchanged"), strings.Index(r.out, "succeeded"); i < 0 || j < 0 || i > j {
		t.Errorf("runs not newest first:\n%s", r.out)
	}

	// config: the token is stored from a file and shown only as configured.
	tf := filepath.Join(dir, "token")
	os.WriteFile(tf, []byte(token+"\n"), 0o600)
	r = run(t, env, "config", "seclytics", "--token-file", tf, "--set", "dataset=B", "--set", "categories=Malicious,BOTNET")
	all = append(all, r)
	if r.code != 0 || !strings.Contains(r.out, "access token      configured") || !strings.Contains(r.out, "dataset           B") ||
		!strings.Contains(r.out, "categories        malicious, botnet") {
		t.Errorf("config: %+v", r)
	}
	r = run(t, env, "config", "seclytics", "--set", "threshold=101")
	if r.code != 2 || !strings.Contains(r.err, "threshold") {
		t.Errorf("invalid threshold: %+v", r)
	}
	r = run(t, env, "run", "seclytics", "--dataset", "C")
	if r.code != 2 || !strings.Contains(r.err, "dataset") {
		t.Errorf("invalid dataset flag: %+v", r)
	}
	r = run(t, env, "runs", "--json")
	all = append(all, r)

	for _, r := range all {
		if strings.Contains(r.out+r.err, token) {
			t.Fatalf("the token appears in CLI output:\n%s\n%s", r.out, r.err)
		}
	}
}

func TestFailedRunExitsNonZeroWithAClearMessage(t *testing.T) {
	base := server(t)
	env := map[string]string{"SECLYTICS_ACCESS_TOKEN": "wrong-token-123456", "FOREWARN_DB": pgtest.Path(t, t.TempDir())}
	r := run(t, env, "run", "seclytics", "--base-url", base, "--log-level", "debug")
	if r.code != 1 || !strings.Contains(r.err, "Seclytics rejected the access token (HTTP 401)") || !strings.Contains(r.out, "run 1 of seclytics: failed") {
		t.Fatalf("%+v", r)
	}
	if strings.Contains(r.out+r.err, "wrong-token-123456") {
		t.Fatal("the token appears in the output")
	}
}

func TestTokenFlagWarns(t *testing.T) {
	base := server(t)
	env := map[string]string{"FOREWARN_DB": pgtest.Path(t, t.TempDir())}
	r := run(t, env, "run", "seclytics", "--base-url", base, "--token", token, "--dry-run")
	if r.code != 0 || !strings.Contains(r.err, "warning: --token is visible") || strings.Count(r.out+r.err, token) != 0 {
		t.Fatalf("%+v", r)
	}
}

func TestFakeRefusesNonLoopback(t *testing.T) {
	r := run(t, nil, "fake-seclytics", "--listen", "0.0.0.0:0")
	if r.code != 2 || !strings.Contains(r.err, "loopback") {
		t.Fatalf("%+v", r)
	}
}

func TestLookupWithoutStoreSaysWhatToDo(t *testing.T) {
	r := run(t, map[string]string{"FOREWARN_DB": filepath.Join(t.TempDir(), "none.db")}, "lookup", "1.2.3.4")
	if r.code != 1 || !strings.Contains(r.err, "run forewarn run seclytics") {
		t.Fatalf("%+v", r)
	}
}

func TestDemo(t *testing.T) {
	db := filepath.Join(t.TempDir(), "demo.db")
	r := run(t, nil, "demo", "--db", db, "--rows", "20000", "--no-serve")
	if r.code != 0 || !strings.Contains(r.out, "run 1 of seclytics: succeeded") || !strings.Contains(r.out, "192.0.2.1: unknown") ||
		strings.Count(r.out, ": listed\n") != 2 || strings.Count(r.out, ": in-predicted-netblock\n") != 1 ||
		strings.Count(r.out, "  IP Address  Active") != 2 || !strings.Contains(r.out, "Importance") {
		t.Fatalf("demo:\n%s\n%s", r.out, r.err)
	}
	if strings.Contains(r.out, "demo-") {
		t.Error("the demo prints its token")
	}
	// Three list feeds list the first Seclytics addresses too: the
	// lookups show several sources on one indicator.
	for _, id := range []string{"feodo", "spamhaus-drop", "blocklist-de"} {
		if !strings.Contains(r.out, "List feed "+id+": succeeded") {
			t.Errorf("demo did not run %s:\n%s", id, r.out)
		}
	}
	if strings.Count(r.out, "sources: Seclytics, blocklist.de, Feodo Tracker, Spamhaus DROP") != 2 {
		t.Errorf("the demo's listed addresses do not show four sources:\n%s", r.out)
	}
	// A second demo finds the same dump and skips it (the list feeds' runs
	// took run ids in between).
	r = run(t, nil, "demo", "--db", db, "--rows", "20000", "--no-serve")
	if r.code != 0 || !strings.Contains(r.out, " of seclytics: unchanged") {
		t.Fatalf("second demo:\n%s\n%s", r.out, r.err)
	}
}

// forewarn version prints what the binary's build information says, as
// text and as JSON.
func TestVersion(t *testing.T) {
	want := buildinfo.Get()
	r := run(t, nil, "version")
	if r.code != 0 || r.out != want.String()+"\n" || !strings.Contains(r.out, want.GoVersion) {
		t.Fatalf("version: exit %d, %q, want %q", r.code, r.out, want.String())
	}
	r = run(t, nil, "version", "--json")
	var got buildinfo.Info
	if err := json.Unmarshal([]byte(r.out), &got); err != nil || got != want {
		t.Fatalf("version --json: %q (%v), want %+v", r.out, err, want)
	}
	if r := run(t, nil, "version", "extra"); r.code != 2 {
		t.Errorf("version extra: exit %d, want 2", r.code)
	}
}
