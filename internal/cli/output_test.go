package cli

import (
	"regexp"
	"strings"
	"testing"

	"forewarn/internal/testutil/pgtest"
)

var outputKeyRE = regexp.MustCompile(`fwo_[A-Za-z0-9_-]{43}`)

// TestOutputCommands: add prints the key once and where the profile is
// served; list and show describe it without the key; rotate-key prints a
// new one; rm removes it; a bad spec exits 2 naming the flag.
func TestOutputCommands(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"FOREWARN_DB": pgtest.Path(t, dir), "USER": "alice"}
	r := run(t, env, "output", "add", "edge", "--format", "edl", "--max", "15000", "--aggregate")
	key := outputKeyRE.FindString(r.out)
	if r.code != 0 || key == "" || !strings.Contains(r.out, "/outputs/edge") || !strings.Contains(r.out, "only time") {
		t.Fatalf("add: %+v", r)
	}
	r = run(t, env, "output", "add", "misp", "--format", "misp-feed", "--tlp", "green", "--misp-attribute", "ip-src")
	if r.code != 0 || !strings.Contains(r.out, "/outputs/misp/manifest.json") {
		t.Fatalf("add misp: %+v", r)
	}
	r = run(t, env, "output", "add", "strict", "--format", "crowdsec", "--max", "100", "--rank", "confidence",
		"--feed", "seclytics", "--feed", "spamhaus-drop", "--min-sources", "2", "--min-confidence", "70")
	if r.code != 0 {
		t.Fatalf("add with feeds: %+v", r)
	}
	r = run(t, env, "output", "show", "strict")
	if want := "crowdsec, at most 100 by confidence, listed by seclytics or spamhaus-drop, at least 2 sources, confidence at least 70"; r.code != 0 || !strings.Contains(r.out, want) {
		t.Fatalf("show with feeds: want %q in %+v", want, r)
	}
	r = run(t, env, "output", "add", "x", "--format", "edl", "--feed", "no-such-feed")
	if r.code != 2 || !strings.Contains(r.err, `no feed "no-such-feed"`) || !strings.Contains(r.err, "spamhaus-drop") {
		t.Fatalf("an unknown feed: want exit 2 naming the feeds: %+v", r)
	}
	r = run(t, env, "output", "list")
	if r.code != 0 || strings.Contains(r.out, key) || !strings.Contains(r.out, "edl, at most 15000 by importance, aggregated") ||
		!strings.Contains(r.out, "misp-feed, tlp green, ip-src") || !strings.Contains(r.out, "never") {
		t.Fatalf("list: %+v", r)
	}
	r = run(t, env, "output", "show", "edge")
	if r.code != 0 || !strings.Contains(r.out, "fwo_"+key[4:12]+"…") || !strings.Contains(r.out, "by alice") {
		t.Fatalf("show: %+v", r)
	}
	r = run(t, env, "output", "rotate-key", "edge")
	if newKey := outputKeyRE.FindString(r.out); r.code != 0 || newKey == "" || newKey == key {
		t.Fatalf("rotate-key: %+v", r)
	}
	if r = run(t, env, "output", "rm", "edge"); r.code != 0 {
		t.Fatalf("rm: %+v", r)
	}
	if r = run(t, env, "output", "show", "edge"); r.code == 0 || !strings.Contains(r.err, "not found") {
		t.Fatalf("show after rm: %+v", r)
	}
	for name, args := range map[string][]string{
		"--format":                 {"output", "add", "x", "--format", "pdf"},
		"--rank without --max":     {"output", "add", "x", "--format", "edl", "--rank", "recency"},
		"--tlp on edl":             {"output", "add", "x", "--format", "edl", "--tlp", "red"},
		"a name with a space":      {"output", "add", "Bad Name", "--format", "edl"},
		"a budget of other status": {"output", "add", "x", "--format", "edl", "--max", "5", "--status", "Review"},
		"no name":                  {"output", "add", "--format", "edl"},
		"--min-confidence 101":     {"output", "add", "x", "--format", "edl", "--min-confidence", "101"},
		"--min-sources -1":         {"output", "add", "x", "--format", "edl", "--min-sources", "-1"},
	} {
		if r := run(t, env, args...); r.code != 2 || r.err == "" {
			t.Errorf("%s: want exit 2 with a message: %+v", name, r)
		}
	}
}
