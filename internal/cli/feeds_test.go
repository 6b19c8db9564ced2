package cli

import (
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"forewarn/internal/testutil/pgtest"
)

// The list-feed commands end to end: feeds lists the built-ins, run ID
// with --base-url fetches the publisher's path from a loopback mirror,
// config ID sets and shows parameters, feed add / rm manage a custom
// definition, and Seclytics-only run flags are refused for a list feed.
func TestListFeedCommands(t *testing.T) {
	drop, err := os.ReadFile("../feeddef/testdata/feeds/spamhaus-drop/2026-08-12.txt")
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/drop/drop.txt" {
			http.NotFound(w, r)
			return
		}
		w.Write(drop)
	}))
	defer hs.Close()
	env := map[string]string{"FOREWARN_DB": pgtest.Path(t, t.TempDir()), "USER": "alice"}

	r := run(t, env, "run", "spamhaus-drop", "--base-url", hs.URL)
	if r.code != 0 || !strings.Contains(r.out, "1686 created") {
		t.Fatalf("run spamhaus-drop: %d\n%s\n%s", r.code, r.out, r.err)
	}
	r = run(t, env, "feeds")
	if r.code != 0 || !strings.Contains(r.out, "spamhaus-drop") || !strings.Contains(r.out, "succeeded") || !strings.Contains(r.out, "1686") {
		t.Fatalf("feeds: %d\n%s\n%s", r.code, r.out, r.err)
	}
	if r = run(t, env, "run", "spamhaus-drop", "--dataset", "A"); r.code != 2 || !strings.Contains(r.err, "--dataset") {
		t.Fatalf("a Seclytics flag on a list feed: %d %s", r.code, r.err)
	}
	if r = run(t, env, "run", "no-such-feed"); r.code == 0 || !strings.Contains(r.err, "no-such-feed") {
		t.Fatalf("unknown feed: %d %s", r.code, r.err)
	}

	def, err := os.ReadFile("../feeddef/testdata/custom/acme-threats.yaml")
	if err != nil {
		t.Fatal(err)
	}
	file := t.TempDir() + "/acme.yaml"
	os.WriteFile(file, def, 0o600)
	if r = run(t, env, "feed", "add", file); r.code != 0 || !strings.Contains(r.out, "added feed acme-threats") {
		t.Fatalf("feed add: %d %s %s", r.code, r.out, r.err)
	}
	if r = run(t, env, "feed", "add", file); r.code == 0 || !strings.Contains(r.err, "already stored") {
		t.Fatalf("feed add twice: %d %s", r.code, r.err)
	}
	bad := t.TempDir() + "/bad.yaml"
	os.WriteFile(bad, []byte("id: bad\nmode: sometimes\n"), 0o600)
	if r = run(t, env, "feed", "add", bad); r.code != 1 || !strings.Contains(r.err, bad+":2:") {
		t.Fatalf("feed add of an invalid file: %d %s", r.code, r.err)
	}
	r = run(t, env, "config", "acme-threats", "--set", "min_score=70", "--set", "list=botnets", "--enable")
	if r.code != 0 || !strings.Contains(r.out, "(enabled)") || !strings.Contains(r.out, "min_score         70") || !strings.Contains(r.out, "categories        [] (default)") {
		t.Fatalf("config: %d\n%s\n%s", r.code, r.out, r.err)
	}
	if r = run(t, env, "config", "acme-threats", "--set", "min_score=700"); r.code != 2 {
		t.Fatalf("config out of range: %d %s", r.code, r.err)
	}
	if r = run(t, env, "feed", "rm", "spamhaus-drop"); r.code == 0 || !strings.Contains(r.err, "built in") {
		t.Fatalf("feed rm of a built-in: %d %s", r.code, r.err)
	}
	if r = run(t, env, "feed", "rm", "acme-threats"); r.code != 0 {
		t.Fatalf("feed rm: %d %s", r.code, r.err)
	}
	if r = run(t, env, "feeds"); strings.Contains(r.out, "acme-threats") {
		t.Fatalf("removed feed still listed:\n%s", r.out)
	}
}
