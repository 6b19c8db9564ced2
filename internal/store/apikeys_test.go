package store

import (
	"bytes"
	"context"
	"errors"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"forewarn/internal/apikey"
	"forewarn/internal/indicator"
	"forewarn/internal/merge"
	"forewarn/internal/testutil/pgtest"
)

func TestAPIKeyLifecycle(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	key, k, err := s.CreateAPIKey(ctx, "ci-reader", apikey.RoleRead)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(key, "fwk_") || k.ID == 0 || k.Name != "ci-reader" || k.Role != apikey.RoleRead ||
		k.Prefix != apikey.Prefix(key) || k.CreatedAt.IsZero() || k.LastUsedAt != nil || k.RevokedAt != nil {
		t.Fatalf("created %q: %+v", key, k)
	}
	adminKey, admin, err := s.CreateAPIKey(ctx, "ops@example.org", apikey.RoleAdmin)
	if err != nil {
		t.Fatal(err)
	}

	// Only the hash is stored: the key is nowhere in the database.
	if b := storeText(t, s); bytes.Contains(b, []byte(key)) || bytes.Contains(b, []byte(adminKey)) ||
		!bytes.Contains(b, []byte(apikey.Hash(key))) {
		t.Fatal("the database holds a key, or not its hash")
	}

	got, err := s.AuthenticateAPIKey(ctx, adminKey)
	if err != nil || got.ID != admin.ID || got.Role != apikey.RoleAdmin {
		t.Fatalf("authenticate admin key: %+v %v", got, err)
	}
	if n, err := s.ActiveAPIKeys(ctx); n != 2 || err != nil {
		t.Fatalf("active keys: %d %v", n, err)
	}

	// Revoked by name, the key no longer authenticates; the other still does.
	rk, err := s.RevokeAPIKey(ctx, "ci-reader")
	if err != nil || rk.RevokedAt == nil || rk.ID != k.ID {
		t.Fatalf("revoke: %+v %v", rk, err)
	}
	if _, err := s.AuthenticateAPIKey(ctx, key); !errors.Is(err, ErrUnauthorized) || !strings.Contains(err.Error(), "revoked") {
		t.Fatalf("revoked key: %v", err)
	}
	if _, err := s.AuthenticateAPIKey(ctx, adminKey); err != nil {
		t.Fatalf("the other key stopped working: %v", err)
	}
	// Revoking again keeps the first revocation time.
	again, err := s.RevokeAPIKey(ctx, strconv.FormatInt(k.ID, 10))
	if err != nil || !again.RevokedAt.Equal(*rk.RevokedAt) {
		t.Fatalf("revoke by id again: %+v %v", again, err)
	}
	if n, _ := s.ActiveAPIKeys(ctx); n != 1 {
		t.Fatalf("active keys after revoking one: %d", n)
	}
	// Revoked by id.
	if _, err := s.RevokeAPIKey(ctx, strconv.FormatInt(admin.ID, 10)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AuthenticateAPIKey(ctx, adminKey); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("key revoked by id: %v", err)
	}

	keys, err := s.APIKeys(ctx)
	if err != nil || len(keys) != 2 || keys[0].ID != k.ID || keys[1].ID != admin.ID || keys[0].RevokedAt == nil {
		t.Fatalf("list: %+v %v", keys, err)
	}
	if keys[1].LastUsedAt == nil {
		t.Error("the admin key was used but has no last use")
	}
}

func TestAPIKeyErrors(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	if _, _, err := s.CreateAPIKey(ctx, "dup", apikey.RoleRead); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		role apikey.Role
		want error
		says string
	}{
		{"dup", apikey.RoleAdmin, ErrConflict, `"dup"`},
		{"x", "superuser", nil, "use read, admin or sightings"},
		{"", apikey.RoleRead, nil, "needs a name"},
		{"12", apikey.RoleRead, nil, "is a number"},
		{"has space", apikey.RoleRead, nil, "letters, digits"},
		{strings.Repeat("a", 65), apikey.RoleRead, nil, "longer than 64"},
	} {
		_, _, err := s.CreateAPIKey(ctx, tc.name, tc.role)
		if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("create %q %q: %v, want %v saying %q", tc.name, tc.role, err, tc.want, tc.says)
		}
	}
	// A revoked key keeps its name.
	if _, err := s.RevokeAPIKey(ctx, "dup"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.CreateAPIKey(ctx, "dup", apikey.RoleRead); !errors.Is(err, ErrConflict) {
		t.Errorf("name of a revoked key reused: %v", err)
	}
	for _, id := range []string{"nobody", "999"} {
		if _, err := s.RevokeAPIKey(ctx, id); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "apikey list") {
			t.Errorf("revoke %s: %v", id, err)
		}
	}
	other, _, _ := apikey.Generate()
	for _, k := range []string{"", "Bearer x", other, other[:len(other)-1]} {
		if _, err := s.AuthenticateAPIKey(ctx, k); !errors.Is(err, ErrUnauthorized) {
			t.Errorf("authenticate %q: %v", k, err)
		}
	}
	if n, err := s.ActiveAPIKeys(ctx); n != 0 || err != nil {
		t.Errorf("active keys: %d %v", n, err)
	}
}

// TestAPIKeyUseIsWrittenAtMostOncePerMinute: the last use is written on
// first use, then not again within a minute, then again.
func TestAPIKeyUseIsWrittenAtMostOncePerMinute(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	_, k, err := s.CreateAPIKey(ctx, "k", apikey.RoleRead)
	if err != nil {
		t.Fatal(err)
	}
	lastUse := func() int64 {
		var v int64
		if err := s.r.QueryRowContext(ctx, `SELECT COALESCE(last_used_at, 0) FROM api_keys WHERE id = ?`, k.ID).Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	t0 := time.Unix(1_900_000_000, 0)
	for _, step := range []struct {
		at      time.Time
		written bool
		stored  int64
	}{
		{t0, true, t0.Unix()},
		{t0.Add(59 * time.Second), false, t0.Unix()},
		{t0.Add(61 * time.Second), true, t0.Unix() + 61},
		{t0.Add(62 * time.Second), false, t0.Unix() + 61},
	} {
		_, written := s.recordKeyUse(ctx, k.ID, step.at)
		if written != step.written || lastUse() != step.stored {
			t.Fatalf("use at +%v: written %v, stored %d; want %v, %d", step.at.Sub(t0), written, lastUse(), step.written, step.stored)
		}
	}
}

// TestAuthenticationDoesNotWaitForARun: while a feed run holds the writer,
// keys still authenticate at once (their use is recorded later).
func TestAuthenticationDoesNotWaitForARun(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	key, _, err := s.CreateAPIKey(ctx, "k", apikey.RoleRead)
	if err != nil {
		t.Fatal(err)
	}
	tx, err := s.BeginIngest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	start := time.Now()
	got, err := s.AuthenticateAPIKey(ctx, key)
	if err != nil || got.Name != "k" {
		t.Fatalf("authenticate during a run: %+v %v", got, err)
	}
	// Waiting for the writer would take until the rollback below (or the
	// busy timeout); a second beyond keyUseWait leaves room for a loaded
	// machine's scheduling without hiding that.
	if d := time.Since(start); d > keyUseWait+time.Second {
		t.Errorf("authentication waited %v for the writer", d)
	}
}

// TestAuthenticationDoesNotWaitForAnotherProcess: while another process (a
// feed run from the command line) holds the database's write lock, keys
// still authenticate within keyUseWait, not after the busy timeout.
func TestAuthenticationDoesNotWaitForAnotherProcess(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	key, _, err := s.CreateAPIKey(ctx, "k", apikey.RoleRead)
	if err != nil {
		t.Fatal(err)
	}
	other, err := Open(ctx, s.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	tx, err := other.BeginIngest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	start := time.Now()
	if _, err := s.AuthenticateAPIKey(ctx, key); err != nil {
		t.Fatalf("authenticate while another writer holds the lock: %v", err)
	}
	if d := time.Since(start); d > keyUseWait+time.Second {
		t.Errorf("authentication waited %v for another writer", d)
	}
}

// TestKeyUseIsRecordedDuringAndAfterARun, on both backends: a key used
// while a feed run holds the feed's lock and its write transaction has its
// last use recorded at once on PostgreSQL (a pool, with connections to
// spare), and on SQLite (one writer, held by the run) at the first use
// after the run, not a minute later.
func TestKeyUseIsRecordedDuringAndAfterARun(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			path := filepath.Join(t.TempDir(), "fw.db")
			if backend == "postgres" {
				path = pgtest.DSN(t)
			}
			s, err := Open(ctx, path)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			key, k, err := s.CreateAPIKey(ctx, "siem", apikey.RoleRead)
			if err != nil {
				t.Fatal(err)
			}
			lastUse := func() int64 {
				t.Helper()
				var v int64
				if err := s.r.QueryRowContext(ctx, `SELECT COALESCE(last_used_at, 0) FROM api_keys WHERE id = ?`, k.ID).Scan(&v); err != nil {
					t.Fatal(err)
				}
				return v
			}

			// A feed run, as feed.Run holds the store: the lock, then
			// the transaction, with a write in it.
			lock, err := s.LockFeed(ctx, "seclytics")
			if err != nil {
				t.Fatal(err)
			}
			tx, err := s.BeginIngest(ctx)
			if err != nil {
				t.Fatal(err)
			}
			row := &merge.Stored{Record: merge.Record{Addr: netip.MustParseAddr("192.0.2.1")}, Status: indicator.StatusActive, CreatedAt: 1, UpdatedAt: 1}
			if err := tx.Write(ctx, []*merge.Stored{row}); err != nil {
				t.Fatal(err)
			}
			got, err := s.AuthenticateAPIKey(ctx, key)
			if err != nil {
				t.Fatalf("authenticate during the run: %v", err)
			}
			during := lastUse()
			if backend == "postgres" && (during == 0 || got.LastUsedAt == nil) {
				t.Errorf("PostgreSQL: last_used_at not written during the run (stored %d, returned %v)", during, got.LastUsedAt)
			}
			if backend == "sqlite" && during != 0 {
				t.Errorf("SQLite: last_used_at %d written while the run holds the only writer", during)
			}
			if err := tx.Rollback(); err != nil {
				t.Fatal(err)
			}
			if err := lock.Close(); err != nil {
				t.Fatal(err)
			}

			if _, err := s.AuthenticateAPIKey(ctx, key); err != nil {
				t.Fatalf("authenticate after the run: %v", err)
			}
			if after := lastUse(); after == 0 || after < during {
				t.Errorf("last_used_at after the run is %d (during: %d): the use after the run was not recorded", after, during)
			}
		})
	}
}

// A key keeps the note it was made with, shown in the list and on sign-in;
// a note too long or on several lines is refused and nothing is created.
func TestAPIKeyNote(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	const note = "Palo Alto EDL in rack 4 — ask Ana before revoking"
	key, k, err := s.CreateNotedAPIKey(ctx, "paloalto-edl", apikey.RoleRead, note)
	if err != nil || k.Note != note {
		t.Fatalf("create with a note: %+v %v", k, err)
	}
	if _, _, err := s.CreateAPIKey(ctx, "plain", apikey.RoleRead); err != nil {
		t.Fatal(err)
	}
	keys, err := s.APIKeys(ctx)
	if err != nil || len(keys) != 2 || keys[0].Note != note || keys[1].Note != "" {
		t.Fatalf("list: %+v %v", keys, err)
	}
	if got, err := s.AuthenticateAPIKey(ctx, key); err != nil || got.Note != note {
		t.Fatalf("authenticate: %+v %v", got, err)
	}
	for name, bad := range map[string]string{"long": strings.Repeat("x", MaxKeyNote+1), "lines": "one\ntwo", "utf8": "\xff"} {
		if _, _, err := s.CreateNotedAPIKey(ctx, "bad-"+name, apikey.RoleRead, bad); err == nil {
			t.Errorf("%s note accepted", name)
		}
	}
	if keys, _ := s.APIKeys(ctx); len(keys) != 2 {
		t.Errorf("%d keys after refused notes, want 2", len(keys))
	}
}
