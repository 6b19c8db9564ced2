package cli

import (
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
