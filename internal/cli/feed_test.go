package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"forewarn/internal/feeddef"
)

func TestFeedValidate(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	if err := os.WriteFile(good, feeddef.BuiltinSource("seclytics"), 0o644); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.yaml")
	src := strings.Replace(string(feeddef.BuiltinSource("ipsum")), "mode: snapshot", "mode: snapshots\ncolour: red", 1)
	src = strings.Replace(src, "parameter: min_lists", "parameter: max_lists", 1)
	if err := os.WriteFile(bad, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}

	r := run(t, nil, "feed", "validate", good)
	if r.code != 0 || r.out != good+": ok (seclytics, 6 parameters)\n" {
		t.Fatalf("valid file: code %d, out %q, err %q", r.code, r.out, r.err)
	}

	r = run(t, nil, "feed", "validate", good, bad, filepath.Join(dir, "missing.yaml"))
	if r.code != 1 || !strings.Contains(r.err, "2 of 3 feed definitions are invalid") {
		t.Fatalf("code %d, err %q", r.code, r.err)
	}
	got := strings.Split(strings.TrimSpace(r.out), "\n")
	want := []string{
		good + ": ok (seclytics, 6 parameters)",
		bad + ":11:7: /mode: value must be one of 'snapshot', 'cumulative'",
		bad + `:12:1: unknown key "colour" in the definition: check its spelling in docs/feeds.md`,
		filepath.Join(dir, "missing.yaml") + ": open " + filepath.Join(dir, "missing.yaml") + ": no such file or directory",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}

	// Once the schema passes, the Go checks report too.
	src = strings.Replace(src, "mode: snapshots\ncolour: red", "mode: snapshot", 1)
	if err := os.WriteFile(bad, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	r = run(t, nil, "feed", "validate", bad)
	if r.code != 1 || r.out != bad+":42:16: parameter \"max_lists\" is not defined under parameters\n" {
		t.Fatalf("code %d, out %q", r.code, r.out)
	}

	if r := run(t, nil, "feed", "validate"); r.code != 2 {
		t.Fatalf("no file: code %d", r.code)
	}
	if r := run(t, nil, "feed", "frobnicate"); r.code != 2 {
		t.Fatalf("unknown subcommand: code %d", r.code)
	}
}
