package cli

import (
	"context"
	"errors"
	"forewarn/internal/testutil/pgtest"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"forewarn/internal/apikey"
	"forewarn/internal/store"
)

var keyPattern = regexp.MustCompile(`fwk_[A-Za-z0-9_-]{43}`)

func TestAPIKeyCommands(t *testing.T) {
	ctx := context.Background()
	db := pgtest.Path(t, t.TempDir())
	env := map[string]string{"FOREWARN_DB": db}

	// create: the key once, that it cannot be shown again, and how to use it.
	r := run(t, env, "apikey", "create", "--name", "siem", "--role", "admin", "--note", "SIEM forwarder, ask Ana")
	keys := keyPattern.FindAllString(r.out, -1)
	if r.code != 0 || len(keys) != 1 || !strings.Contains(r.out, "cannot be shown again") ||
		!strings.Contains(r.out, "Authorization: Bearer KEY") || !strings.Contains(r.out, "id 1, role admin") {
		t.Fatalf("create: %+v", r)
	}
	key := keys[0]
	r = run(t, map[string]string{}, "apikey", "create", "--db", db, "--name", "dashboard")
	if r.code != 0 || !strings.Contains(r.out, "role read") {
		t.Fatalf("create with --db and the default role: %+v", r)
	}

	st, err := store.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	k, err := st.AuthenticateAPIKey(ctx, key)
	st.Close()
	if err != nil || k.Name != "siem" || k.Role != apikey.RoleAdmin {
		t.Fatalf("the printed key does not authenticate: %+v %v", k, err)
	}

	// list: a table with the prefix, never the key or its hash.
	r = run(t, env, "apikey", "list")
	if r.code != 0 || strings.Contains(r.out, key) || strings.Contains(r.out, apikey.Hash(key)) {
		t.Fatalf("list shows a key or hash: %+v", r)
	}
	lines := strings.Split(strings.TrimSpace(r.out), "\n")
	if len(lines) != 3 || !strings.Contains(lines[0], "LAST USED") || !strings.Contains(lines[1], "siem") ||
		!strings.Contains(lines[1], "fwk_"+apikey.Prefix(key)+"…") || !strings.Contains(lines[1], "admin") ||
		!strings.Contains(lines[0], "NOTE") || !strings.HasSuffix(lines[1], "SIEM forwarder, ask Ana") {
		t.Fatalf("list:\n%s", r.out)
	}

	// revoke by name, then by id; the key stops working.
	r = run(t, env, "apikey", "revoke", "siem")
	if r.code != 0 || !strings.Contains(r.out, "revoked API key siem") {
		t.Fatalf("revoke: %+v", r)
	}
	r = run(t, env, "apikey", "revoke", "1")
	if r.code != 0 || !strings.Contains(r.out, "already revoked") {
		t.Fatalf("revoke again by id: %+v", r)
	}
	st, err = store.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	_, err = st.AuthenticateAPIKey(ctx, key)
	st.Close()
	if !errors.Is(err, store.ErrUnauthorized) {
		t.Fatalf("revoked key authenticates: %v", err)
	}
	r = run(t, env, "apikey", "list")
	if lines := strings.Split(strings.TrimSpace(r.out), "\n"); len(lines) != 3 || strings.HasSuffix(strings.TrimSpace(lines[1]), "-") {
		t.Fatalf("list does not show the revocation:\n%s", r.out)
	}
}

func TestAPIKeyCommandErrorsNameTheFix(t *testing.T) {
	db := pgtest.Path(t, t.TempDir())
	env := map[string]string{"FOREWARN_DB": db}
	if r := run(t, env, "apikey", "create", "--name", "a"); r.code != 0 {
		t.Fatalf("create: %+v", r)
	}
	for _, tc := range []struct {
		args []string
		code int
		says string
	}{
		{[]string{"apikey"}, 2, "create, list or revoke"},
		{[]string{"apikey", "rotate"}, 2, "create, list or revoke"},
		{[]string{"apikey", "create", "--name", "b", "--role", "owner"}, 2, "use read, admin or sightings"},
		{[]string{"apikey", "create"}, 2, "--name NAME"},
		{[]string{"apikey", "create", "--name", "a"}, 1, "choose another name"},
		{[]string{"apikey", "create", "--name", "42"}, 2, "add a letter"},
		{[]string{"apikey", "revoke"}, 2, "NAME|ID"},
		{[]string{"apikey", "revoke", "nobody"}, 1, "forewarn apikey list"},
		{[]string{"apikey", "list", "--db", filepath.Join(t.TempDir(), "none.db")}, 1, "no store at"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			r := run(t, env, tc.args...)
			if r.code != tc.code || !strings.Contains(r.err, tc.says) {
				t.Fatalf("exit %d, want %d; stderr %q should say %q", r.code, tc.code, r.err, tc.says)
			}
		})
	}
	r := run(t, map[string]string{"FOREWARN_DB": filepath.Join(t.TempDir(), "empty.db")}, "apikey", "create", "--name", "x")
	if r.code != 0 {
		t.Fatalf("create in a new store: %+v", r)
	}
}
