package testutil

import (
	"bytes"
	"context"
	"net/http/httptest"
	"sync"
	"testing"

	"forewarn/internal/fakeseclytics"
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
