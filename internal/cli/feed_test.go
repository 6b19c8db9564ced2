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
		bad + `:43:16: parameter "max_lists" is not defined under parameters`,
		filepath.Join(dir, "missing.yaml") + ": open " + filepath.Join(dir, "missing.yaml") + ": no such file or directory",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}

	// The Go checks report on their own too.
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

func TestFeedValidateSample(t *testing.T) {
	// The definition says gzip; a saved sample may be plain.
	plain := "../feeddef/testdata/custom/acme-threats.yaml"
	body := "../feeddef/testdata/custom/acme-threats.csv"
	r := run(t, nil, "feed", "validate", "--sample", body, plain)
	want := plain + ": ok (acme-threats, 5 parameters)\n" +
		body + `:7: "not-an-address" is not an IP address` + "\n" +
		body + ": 7 lines, 3 entries (3 distinct), 1 invalid lines, 0 attributes dropped, 1 dropped by filter 1 (at_least), 0 dropped by filter 2 (any_of)\n"
	if r.code != 0 || r.out != want {
		t.Fatalf("code %d, err %q, out:\n%s\nwant:\n%s", r.code, r.err, r.out, want)
	}
	real := "../feeddef/testdata/feeds/firehol-level1/2022-01-24.netset"
	dir := t.TempDir()
	fh := filepath.Join(dir, "firehol.yaml")
	if err := os.WriteFile(fh, feeddef.BuiltinSource("firehol-level1"), 0o644); err != nil {
		t.Fatal(err)
	}
	r = run(t, nil, "feed", "validate", "--sample", real, fh)
	if r.code != 0 || !strings.Contains(r.out, real+": 2544 lines, 2510 entries (2510 distinct), 1 invalid lines") ||
		!strings.Contains(r.out, real+":2544: 224.0.0.0/3 is wider than /8") {
		t.Fatalf("code %d, out:\n%s", r.code, r.out)
	}
	if r := run(t, nil, "feed", "validate", "--sample", real, fh, plain); r.code != 2 {
		t.Fatalf("--sample with two definitions: code %d", r.code)
	}
}
