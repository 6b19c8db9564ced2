package pgtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
)

// Env names the server tests may use, for example
// postgres://postgres@127.0.0.1:5432/test?sslmode=disable.
const Env = "FOREWARN_TEST_POSTGRES"

// BackendEnv set to "postgres" makes the tests that open "a store" open a
// PostgreSQL one (the second column of the backend matrix, see .ci/run).
const BackendEnv = "FOREWARN_TEST_BACKEND"

// Wanted reports whether the backend matrix asks for PostgreSQL.
func Wanted() bool { return os.Getenv(BackendEnv) == "postgres" }

// SkipUnlessSQLite skips a test that only makes sense on SQLite when the
// matrix runs PostgreSQL.
func SkipUnlessSQLite(t testing.TB, why string) {
	t.Helper()
	if Wanted() {
		t.Skip("SQLite only: " + why)
	}
}

// DSN returns the DSN of a new, empty schema on the server named by
// FOREWARN_TEST_POSTGRES, dropped at the end of the test, with the store's
// token key file in the test's temporary directory. Without the variable
// the test is skipped.
func DSN(t testing.TB) string {
	t.Helper()
	base := os.Getenv(Env)
	if base == "" {
		if Wanted() {
			t.Fatalf("%s=postgres needs %s (a PostgreSQL DSN)", BackendEnv, Env)
		}
		t.Skipf("PostgreSQL tests need %s, e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable (.ci/run sets it)", Env)
	}
	var rnd [6]byte
	rand.Read(rnd[:])
	schema := "fwt_" + hex.EncodeToString(rnd[:])
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := admin.ExecContext(ctx, `CREATE SCHEMA `+schema); err != nil {
		admin.Close()
		t.Fatalf("create a schema on %s: %v", base, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := admin.ExecContext(ctx, `DROP SCHEMA `+schema+` CASCADE`); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
		admin.Close()
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	t.Setenv("FOREWARN_KEY_FILE", filepath.Join(t.TempDir(), "token.key"))
	return u.String()
}

// Path returns where a test's store lives: a new PostgreSQL schema when
// the matrix asks for PostgreSQL, else a SQLite file in dir.
func Path(t testing.TB, dir string) string {
	t.Helper()
	if Wanted() {
		return DSN(t)
	}
	return filepath.Join(dir, "forewarn.db")
}
