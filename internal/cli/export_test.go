package cli

import (
	"forewarn/internal/testutil/pgtest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestExportCommand(t *testing.T) {
	base := server(t)
	dir := t.TempDir()
	env := map[string]string{"SECLYTICS_ACCESS_TOKEN": token, "FOREWARN_DB": pgtest.Path(t, dir)}
	if r := run(t, env, "run", "seclytics", "--base-url", base, "--threshold", "0", "--categories=", "--context", "all"); r.code != 0 {
		t.Fatalf("run: %+v", r)
	}

	t.Run("suricata-iprep writes categories.txt beside the list", func(t *testing.T) {
		out := filepath.Join(dir, "iprep", "reputation.list")
		os.MkdirAll(filepath.Dir(out), 0o755)
		r := run(t, env, "export", "--format", "suricata-iprep", "--status", "all", "-o", out)
		if r.code != 0 || !strings.Contains(r.err, "categories.txt") {
			t.Fatalf("%+v", r)
		}
		cats, err := os.ReadFile(filepath.Join(dir, "iprep", "categories.txt"))
		if err != nil || !strings.HasPrefix(string(cats), "1,malicious,") {
			t.Fatalf("categories.txt: %v %q", err, cats)
		}
		list, _ := os.ReadFile(out)
		if strings.Count(string(list), "\n") < 100 {
			t.Errorf("reputation list has %d lines", strings.Count(string(list), "\n"))
		}
	})

	t.Run("filters and max", func(t *testing.T) {
		r := run(t, env, "export", "--format", "edl", "--status", "Active,Expired", "--min-importance", "50", "--max", "5")
		if lines := strings.Fields(r.out); r.code != 0 || len(lines) != 5 {
			t.Fatalf("want 5 addresses: %+v", r)
		}
		r = run(t, env, "export", "--format", "csv", "--status", "all", "--categories", "spam", "--updated-since", "2000-01-01")
		lines := strings.Split(strings.TrimSpace(r.out), "\n")
		if r.code != 0 || !strings.HasPrefix(lines[0], "ip,predicted_at,") || len(lines) < 10 {
			t.Fatalf("csv: %d lines, %+v", len(lines), r.err)
		}
		for _, l := range lines[1:] {
			if !strings.Contains(l, "spam") {
				t.Fatalf("a row without the category asked for: %s", l)
			}
		}
	})

	t.Run("misp-feed writes a feed directory", func(t *testing.T) {
		feed := filepath.Join(dir, "misp")
		r := run(t, env, "export", "--format", "misp-feed", "--dir", feed, "--tlp", "green", "--misp-attribute", "ip-src")
		if r.code != 0 || !strings.Contains(r.err, "MISP feed in "+feed) {
			t.Fatalf("%+v", r)
		}
		names, _ := filepath.Glob(filepath.Join(feed, "*"))
		manifest, err := os.ReadFile(filepath.Join(feed, "manifest.json"))
		if len(names) != 3 || err != nil || !strings.Contains(string(manifest), `"tlp:green"`) {
			t.Fatalf("want manifest.json, hashes.csv and one event: %v, %v %.300s", names, err, manifest)
		}
	})

	t.Run("a jsonl budget without --status names --status active", func(t *testing.T) {
		r := run(t, env, "export", "--format", "jsonl", "--max", "5")
		if r.code != 2 || !strings.Contains(r.err, "--status active") || r.out != "" {
			t.Fatalf("want exit 2 naming --status active: %+v", r)
		}
		r = run(t, env, "export", "--format", "jsonl", "--max", "5", "--status", "active")
		if lines := strings.Split(strings.TrimSpace(r.out), "\n"); r.code != 0 || len(lines) != 5 || !strings.Contains(lines[0], `"status":"Active"`) {
			t.Fatalf("want 5 Active indicators: %+v", r)
		}
	})

	for name, args := range map[string][]string{
		"misp-feed needs --dir":            {"--format", "misp-feed"},
		"--dir is for misp-feed":           {"--format", "edl", "--dir", dir},
		"tlp is for ecs and misp-feed":     {"--format", "edl", "--tlp", "red"},
		"unknown tlp":                      {"--format", "ecs", "--tlp", "purple"},
		"unknown format lists the formats": {"--format", "pdf"},
		"aggregate is for edl":             {"--format", "csv", "--aggregate"},
		"bad status":                       {"--status", "Gone"},
		"bad importance":                   {"--min-importance", "high"},
		"bad time":                         {"--updated-since", "yesterday"},
	} {
		t.Run(name, func(t *testing.T) {
			r := run(t, env, append([]string{"export"}, args...)...)
			if r.code != 2 || r.err == "" {
				t.Fatalf("want exit 2 with a message: %+v", r)
			}
			if args[1] == "pdf" && !strings.Contains(r.err, "zeek-intel") {
				t.Errorf("the error does not list the formats: %s", r.err)
			}
		})
	}
}
