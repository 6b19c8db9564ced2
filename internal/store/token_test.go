package store

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"forewarn/internal/config"
	"forewarn/internal/secret"
)

const sealedToken = "tok-AT-REST-4b1d9e77c0"

// dbBytes is every byte of the database: the file and its write-ahead log.
func dbBytes(t *testing.T, path string) []byte {
	t.Helper()
	var all []byte
	for _, p := range []string{path, path + "-wal"} {
		b, err := os.ReadFile(p)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		all = append(all, b...)
	}
	return all
}

// storeText is everything the store holds: its files for SQLite, every
// table's rows as text for PostgreSQL.
func storeText(t *testing.T, s *Store) []byte {
	t.Helper()
	if s.d != postgresDialect {
		return dbBytes(t, s.Path())
	}
	rows, err := s.r.Query(`SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()`)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var n string
		rows.Scan(&n)
		tables = append(tables, n)
	}
	rows.Close()
	var all []byte
	for _, n := range tables {
		var text sql.NullString
		if err := s.r.QueryRow(`SELECT string_agg(t::text, E'\n') FROM ` + n + ` t`).Scan(&text); err != nil {
			t.Fatal(err)
		}
		all = append(all, text.String...)
	}
	if len(tables) == 0 || len(all) == 0 {
		t.Fatal("the PostgreSQL store holds nothing to search")
	}
	return all
}

func saveToken(t *testing.T, s *Store, tok string) {
	t.Helper()
	cfg := config.Default()
	cfg.Token = secret.New(tok)
	if err := s.SaveFeedConfig(context.Background(), "seclytics", cfg); err != nil {
		t.Fatal(err)
	}
}

func TestTokenIsEncryptedAtRest(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "f.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(s.KeyPath()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a key file exists before any token was stored: %v", err)
	}
	saveToken(t, s, sealedToken)
	cfg, _, err := s.FeedConfig(ctx, "seclytics")
	if err != nil || cfg.Token.Reveal() != sealedToken {
		t.Fatalf("FeedConfig: token %v, %v", cfg.Token.Reveal() == sealedToken, err)
	}
	var stored string
	if err := s.r.QueryRow(`SELECT token FROM feeds`).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(stored, sealedPrefix) {
		t.Errorf("feeds.token is %q, want an encrypted value", stored)
	}
	// Saving again encrypts afresh: equal tokens do not give equal values.
	saveToken(t, s, sealedToken)
	var again string
	s.r.QueryRow(`SELECT token FROM feeds`).Scan(&again)
	if again == stored {
		t.Error("two encryptions of the token are identical")
	}

	for _, b := range [][]byte{dbBytes(t, path)} {
		if bytes.Contains(b, []byte(sealedToken)) || bytes.Contains(b, []byte(base64.StdEncoding.EncodeToString([]byte(sealedToken)))) {
			t.Error("the database (file or WAL) holds the token in the clear while open")
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(dbBytes(t, path), []byte(sealedToken)) {
		t.Error("the database file holds the token in the clear")
	}

	// The key and the database are readable by their owner only, and the
	// folder keeps whatever mode the user gave it.
	for _, p := range []string{path, path + ".key"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %04o, want 0600", filepath.Base(p), fi.Mode().Perm())
		}
	}
	key, _ := os.ReadFile(path + ".key")
	if bytes.Contains(key, []byte(sealedToken)) {
		t.Error("the key file holds the token")
	}
	if entries, _ := os.ReadDir(dir); len(entries) > 4 {
		t.Errorf("left temporary files beside the database: %v", entries)
	}
}

func TestTokenKeyProblemsSayWhatToDo(t *testing.T) {
	ctx := context.Background()
	setup := func(t *testing.T) (*Store, string) {
		path := filepath.Join(t.TempDir(), "f.db")
		s, err := Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		saveToken(t, s, sealedToken)
		return s, s.KeyPath()
	}
	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, key string)
		want   string
	}{
		{"missing key", func(t *testing.T, key string) { os.Remove(key) }, "key file " + "%KEY%" + " is missing"},
		{"other key", func(t *testing.T, key string) {
			os.Remove(key)
			if err := createKey(key); err != nil {
				t.Fatal(err)
			}
		}, "was the key file replaced?"},
		{"readable by others", func(t *testing.T, key string) { os.Chmod(key, 0o644) }, "readable by other users (mode 0644): run chmod 600"},
		{"damaged key", func(t *testing.T, key string) { os.WriteFile(key, []byte("xyz\n"), 0o600) }, "is damaged"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, key := setup(t)
			tc.damage(t, key)
			_, _, err := s.FeedConfig(ctx, "seclytics")
			want := strings.ReplaceAll(tc.want, "%KEY%", key)
			if !errors.Is(err, ErrTokenKey) || !strings.Contains(err.Error(), want) {
				t.Fatalf("FeedConfig: %v, want ErrTokenKey saying %q", err, want)
			}
			if strings.Contains(err.Error(), sealedToken) {
				t.Fatal("the error shows the token")
			}
			// Storing the token again is the documented way out (unless the
			// key is too widely readable, which the user must fix).
			if tc.name == "readable by others" {
				return
			}
			if tc.name == "missing key" || tc.name == "damaged key" {
				os.Remove(key)
			}
			saveToken(t, s, sealedToken)
			if cfg, _, err := s.FeedConfig(ctx, "seclytics"); err != nil || cfg.Token.Reveal() != sealedToken {
				t.Fatalf("after storing the token again: %v", err)
			}
		})
	}
}

func TestPlainTextTokenOfAnOlderStoreIsEncryptedInPlace(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "f.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.w.Exec(`INSERT INTO feeds (name, config, token, updated_at) VALUES ('seclytics', ?, ?, 0)`,
		string(func() []byte { c := config.Default(); return c.Encode() }()), sealedToken); err != nil {
		t.Fatal(err)
	}
	cfg, _, err := s.FeedConfig(ctx, "seclytics")
	if err != nil || cfg.Token.Reveal() != sealedToken {
		t.Fatalf("legacy token: %v", err)
	}
	var stored string
	s.r.QueryRow(`SELECT token FROM feeds`).Scan(&stored)
	if !strings.HasPrefix(stored, sealedPrefix) {
		t.Errorf("the plain-text token was not encrypted in place: %q", stored)
	}
	if cfg, _, err := s.FeedConfig(ctx, "seclytics"); err != nil || cfg.Token.Reveal() != sealedToken {
		t.Fatalf("after the upgrade: %v", err)
	}
	// A sealed token is bound to its feed.
	if _, err := s.w.Exec(`INSERT INTO feeds (name, config, token, updated_at) SELECT 'other', config, token, 0 FROM feeds`); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.FeedConfig(ctx, "other"); !errors.Is(err, ErrTokenKey) {
		t.Errorf("a token moved to another feed decrypted: %v", err)
	}
}
