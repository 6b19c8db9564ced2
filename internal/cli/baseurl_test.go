package cli

import (
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"forewarn/internal/testutil/pgtest"
)

// TestConfigBaseURLOfAnotherOriginDropsTheToken: config --set base_url=
// with a new origin removes the stored token unless --token-file gives one
// in the same command (issue 13 C10).
func TestConfigBaseURLOfAnotherOriginDropsTheToken(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"FOREWARN_DB": pgtest.Path(t, dir)}
	tf := filepath.Join(dir, "token")
	if err := os.WriteFile(tf, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	configured := func(r result) bool { return strings.Contains(r.out, "access token      configured") }

	if r := run(t, env, "config", "seclytics", "--token-file", tf); r.code != 0 || !configured(r) {
		t.Fatalf("store the token: %+v", r)
	}
	if r := run(t, env, "config", "seclytics", "--set", "base_url=http://attacker.example"); r.code != 2 || !strings.Contains(r.err, "base_url") {
		t.Fatalf("plain http off loopback: %+v, want exit 2 naming base_url", r)
	}
	if r := run(t, env, "config", "seclytics", "--set", "base_url=https://api.seclytics.com/v2"); r.code != 0 || !configured(r) {
		t.Fatalf("same origin: %+v, want the token kept", r)
	}
	r := run(t, env, "config", "seclytics", "--set", "base_url=https://mirror.example")
	if r.code != 0 || configured(r) || !strings.Contains(r.out, "--token-file") {
		t.Fatalf("another origin: %+v, want the token removed and told so", r)
	}
	if r := run(t, env, "config", "seclytics", "--set", "base_url=https://api.seclytics.com", "--token-file", tf); r.code != 0 || !configured(r) {
		t.Fatalf("another origin with a token: %+v, want it stored", r)
	}
}

// TestConfigRepairsABaseURLThisVersionRefuses: a plain-http base_url beyond
// loopback that an older forewarn stored makes the configuration invalid;
// config --set base_url= replaces it (dropping the token, which must not
// follow it) instead of failing to read it.
func TestConfigRepairsABaseURLThisVersionRefuses(t *testing.T) {
	pgtest.SkipUnlessSQLite(t, "writes the stored configuration with SQL")
	dir := t.TempDir()
	db := filepath.Join(dir, "f.db")
	env := map[string]string{"FOREWARN_DB": db}
	tf := filepath.Join(dir, "token")
	if err := os.WriteFile(tf, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := run(t, env, "config", "seclytics", "--token-file", tf); r.code != 0 {
		t.Fatalf("store the token: %+v", r)
	}
	conn, err := sql.Open("sqlite", "file:"+db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Exec(`UPDATE feeds SET config = replace(config, 'https://api.seclytics.com', 'http://10.0.0.1')`); err != nil {
		t.Fatal(err)
	}
	if r := run(t, env, "config", "seclytics"); r.code == 0 || !strings.Contains(r.err, "base_url") {
		t.Fatalf("show a refused stored base_url: %+v, want an error naming base_url", r)
	}
	if r := run(t, env, "config", "seclytics", "--set", "dataset=B"); r.code == 0 {
		t.Fatalf("another change leaves the refused base_url: %+v, want an error", r)
	}
	r := run(t, env, "config", "seclytics", "--set", "base_url=https://mirror.example")
	if r.code != 0 || !strings.Contains(r.out, "access token      not configured") || !strings.Contains(r.err, "--token-file") {
		t.Fatalf("repair: %+v, want it saved without the token, and told so", r)
	}
	if r := run(t, env, "config", "seclytics"); r.code != 0 || !strings.Contains(r.out, "https://mirror.example") {
		t.Fatalf("after the repair: %+v", r)
	}
}
