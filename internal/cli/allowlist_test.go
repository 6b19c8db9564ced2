package cli

import (
	"forewarn/internal/testutil/pgtest"
	"strings"
	"testing"
)

func TestAllowlistCommands(t *testing.T) {
	db := pgtest.Path(t, t.TempDir())
	env := map[string]string{"FOREWARN_DB": db, "USER": "alice"}
	if r := run(t, env, "allowlist", "add", "203.0.113.0/24", "--comment", "partner VPN"); r.code != 0 ||
		!strings.Contains(r.out, "added 203.0.113.0/24") {
		t.Fatalf("add: %+v", r)
	}
	if r := run(t, env, "allowlist", "add", "198.51.100.7", "--by", "bob"); r.code != 0 {
		t.Fatalf("add an address: %+v", r)
	}
	if r := run(t, env, "allowlist", "add", "203.0.113.9/24"); r.code == 0 || !strings.Contains(r.err, "already") {
		t.Fatalf("add twice: %+v", r)
	}
	if r := run(t, env, "allowlist", "add", "not-an-ip"); r.code != 2 {
		t.Fatalf("add garbage: %+v", r)
	}
	r := run(t, env, "allowlist", "list")
	if r.code != 0 || !strings.Contains(r.out, "198.51.100.7/32") || !strings.Contains(r.out, "alice") ||
		!strings.Contains(r.out, "partner VPN") || !strings.Contains(r.out, "10.0.0.0/8") || !strings.Contains(r.out, "built-in (on)") ||
		!strings.Contains(r.out, "RFC 1918") {
		t.Fatalf("list:\n%s\n%s", r.out, r.err)
	}
	if r := run(t, env, "config", "seclytics", "--set", "allowlist_special_ranges=false"); r.code != 0 {
		t.Fatalf("config: %+v", r)
	}
	if r := run(t, env, "allowlist", "list"); !strings.Contains(r.out, "built-in (off)") {
		t.Fatalf("list with special ranges off:\n%s", r.out)
	}
	if r := run(t, env, "allowlist", "rm", "203.0.113.0/24"); r.code != 0 || !strings.Contains(r.out, "stay Whitelisted") {
		t.Fatalf("rm: %+v", r)
	}
	if r := run(t, env, "allowlist", "rm", "203.0.113.0/24"); r.code == 0 || !strings.Contains(r.err, "not on the allow-list") {
		t.Fatalf("rm twice: %+v", r)
	}
}
