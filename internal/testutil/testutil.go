package testutil

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"forewarn/internal/apikey"
	"forewarn/internal/fakeseclytics"
	"forewarn/internal/merge"
	"forewarn/internal/store"
	"forewarn/internal/testutil/pgtest"
)

// Seclytics starts a fake Seclytics server with opts on loopback (its
// dumps cached in a temporary directory unless opts.Dir is set) and returns
// it with its URL. Both stop when the test ends.
func Seclytics(t testing.TB, opts fakeseclytics.Options) (*fakeseclytics.Server, string) {
	t.Helper()
	if opts.Dir == "" {
		opts.Dir = t.TempDir()
	}
	srv, err := fakeseclytics.New(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(func() { hs.Close(); srv.Close() })
	return srv, hs.URL
}

// Store opens a new store, closed when the test ends: a SQLite file in a
// temporary directory, or a fresh PostgreSQL schema when the backend matrix
// asks for PostgreSQL (see package pgtest).
func Store(t testing.TB) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), pgtest.Path(t, t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// Commit writes rows to st in one committed ingest, as a run's Write
// does.
func Commit(t testing.TB, st *store.Store, rows []*merge.Stored) {
	t.Helper()
	ctx := context.Background()
	tx, err := st.BeginIngest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if err := tx.Write(ctx, rows); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

// Buffer is a bytes.Buffer safe for concurrent use.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// HoldWriteLock takes the write lock of the SQLite store at path from a
// second Store, as `forewarn run` in another process does while it merges
// and commits a big dump. The returned function releases it; the test's
// end releases it too.
func HoldWriteLock(t testing.TB, path string) (release func()) {
	t.Helper()
	other, err := store.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	tx, err := other.BeginIngest(context.Background())
	if err != nil {
		other.Close()
		t.Fatal(err)
	}
	release = sync.OnceFunc(func() {
		tx.Rollback()
		other.Close()
	})
	t.Cleanup(release)
	return release
}

// SQLiteStore opens a new SQLite store file, closed when the test ends,
// and returns it with its path (for a second Store on the same file). On
// the PostgreSQL pass of the backend matrix the test is skipped, saying
// why it needs SQLite.
func SQLiteStore(t testing.TB, why string) (*store.Store, string) {
	t.Helper()
	pgtest.SkipUnlessSQLite(t, why)
	path := filepath.Join(t.TempDir(), "s.db")
	st, err := store.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st, path
}

// AdminKey creates an admin API key named "ops" and returns the key and
// its record.
func AdminKey(t testing.TB, st *store.Store) (string, store.APIKey) {
	t.Helper()
	key, k, err := st.CreateAPIKey(context.Background(), "ops", apikey.RoleAdmin)
	if err != nil {
		t.Fatal(err)
	}
	return key, k
}

// ServeWithBudget serves h on loopback, giving every request the budget d
// (serve gives 30 s), until the test ends.
func ServeWithBudget(t testing.TB, h http.Handler, d time.Duration) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), d)
		defer cancel()
		h.ServeHTTP(w, r.WithContext(ctx))
	}))
	t.Cleanup(srv.Close)
	return srv
}
