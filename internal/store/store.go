package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	_ "modernc.org/sqlite" // the pure-Go SQLite driver: static binary, no cgo
)

//go:embed migrations/sqlite/*.sql migrations/postgres/*.sql
var migrations embed.FS

// Store is the store: a SQLite file, or a PostgreSQL database (see
// postgres.go). The same code serves both; dialect says where they differ.
type Store struct {
	path string // SQLite: the file; PostgreSQL: the DSN without its password
	// keyPath is the file of the key that encrypts stored tokens.
	keyPath string
	d       dialect
	w       *db // SQLite: one connection, SQLite has one writer; PostgreSQL: the pool
	r       *db // SQLite: the read pool; PostgreSQL: the same pool as w
	// x is the exports' own read pool: a download holds its connection
	// for as long as the client takes to read it, and slow clients must
	// not take the connections every other request needs.
	x *db

	runTimes runTimes
	keyUses  keyUses

	// batches are the chunks of rows the SQLite writer's statements read
	// through fw_batch (batchvtab.go); nil on PostgreSQL.
	batches *batchChunks
}

// ErrNotFound is returned when a lookup finds nothing.
var ErrNotFound = errors.New("not found")

// Open opens the store at path, a SQLite file (created if needed) or a
// postgres:// DSN, and applies pending migrations.
func Open(ctx context.Context, path string) (*Store, error) {
	if path == "" {
		return nil, errors.New("open store: no database path: set --db or FOREWARN_DB")
	}
	if IsPostgres(path) {
		return openPostgres(ctx, path)
	}
	if dir := filepath.Dir(path); dir != "" {
		if _, err := os.Stat(dir); err != nil {
			return nil, fmt.Errorf("open store %s: the directory does not exist: %w", path, err)
		}
	}
	// The store holds the feed's token: create it readable by its owner only.
	if f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE, 0o600); err == nil {
		f.Close()
	} else {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	dsn := func(extra string) string {
		q := url.Values{}
		for _, p := range []string{"busy_timeout(10000)", "synchronous(NORMAL)", "foreign_keys(ON)"} {
			q.Add("_pragma", p)
		}
		return "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode() + extra
	}
	// The writer's own driver has the batch module (batchvtab.go).
	w := sql.OpenDB(writerConnector{dsn("&_txlock=immediate&_pragma=cache_size(-32768)")})
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	r, err := sql.Open("sqlite", dsn("&_pragma=query_only(ON)"))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	r.SetMaxOpenConns(8)
	x, err := sql.Open("sqlite", dsn("&_pragma=query_only(ON)"))
	if err != nil {
		w.Close()
		r.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	x.SetMaxOpenConns(DefaultExportConns)
	s := &Store{path: path, keyPath: path + ".key", w: &db{DB: w, waits: true}, r: &db{DB: r}, x: &db{DB: x}, batches: newBatchChunks()}
	if err := s.migrate(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	return s, nil
}

// DefaultExportConns is the size of the exports' own connection pool
// until SetExportConns changes it.
const DefaultExportConns = 8

// SetExportConns sizes the exports' own connection pool: serve makes it
// the number of exports it admits at once, so that each admitted export
// has a connection and no export can take one another request needs.
func (s *Store) SetExportConns(n int) {
	s.x.SetMaxOpenConns(max(n, 1))
	s.x.SetMaxIdleConns(min(n, 2))
}

// Path returns the database file's path, or the PostgreSQL DSN without its
// password.
func (s *Store) Path() string { return s.path }

// Close closes the store, folding the write-ahead log back into the
// database file so that the store is one file again.
func (s *Store) Close() error {
	if s.d == postgresDialect {
		return errors.Join(s.x.Close(), s.w.Close())
	}
	defer s.batches.close()
	rerr := errors.Join(s.x.Close(), s.r.Close())
	// Bounded: a transaction left open by a caller must not hang Close.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Without waiting: a reader that closes while a run holds the write
	// lock must not wait for the run (up to the busy timeout) only to fold
	// the log; the run checkpoints when it closes. A busy checkpoint
	// reports busy in its result row, not as an error.
	// The pool itself, not s.w: Close must not wait for the lock.
	_, cerr := s.w.DB.ExecContext(ctx, `PRAGMA busy_timeout = 0`)
	if cerr == nil {
		_, cerr = s.w.DB.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`)
	}
	return errors.Join(rerr, cerr, s.w.Close())
}

func (s *Store) migrate(ctx context.Context) error {
	if s.d == sqliteDialect {
		// WAL lets readers see the last committed state while a run
		// writes. The mode is stored in the file, so every later
		// connection uses it.
		if _, err := s.w.ExecContext(ctx, `PRAGMA journal_mode = WAL`); err != nil {
			return fmt.Errorf("set WAL mode: %w", err)
		}
	}
	if _, err := s.w.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	files, err := fs.Glob(migrations, "migrations/"+s.d.String()+"/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(files)
	var current int
	if err := s.w.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	for _, f := range files {
		name := filepath.Base(f)
		v, err := strconv.Atoi(strings.SplitN(name, "_", 2)[0])
		if err != nil {
			return fmt.Errorf("migration %s: name must start with a number", name)
		}
		if v <= current {
			continue
		}
		body, err := migrations.ReadFile(f)
		if err != nil {
			return err
		}
		tx, err := s.w.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("migration %s: %w", name, err)
		}
		if s.d == postgresDialect {
			// Instances starting together migrate one at a time; the
			// later ones find the version applied.
			var again int
			if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtext(current_schema() || ':forewarn:migrate'))`); err != nil {
				tx.Rollback()
				return fmt.Errorf("migration %s: %w", name, err)
			}
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE version = ?`, v).Scan(&again); err != nil || again > 0 {
				tx.Rollback()
				if err != nil {
					return fmt.Errorf("migration %s: %w", name, err)
				}
				continue
			}
		}
		// As written: a migration has no parameters to rebind.
		if _, err := tx.Tx.ExecContext(ctx, string(body)); err != nil {
			tx.Rollback()
			return fmt.Errorf("migration %s: %w", name, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
			v, name, time.Now().Unix()); err != nil {
			tx.Rollback()
			return fmt.Errorf("migration %s: %w", name, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("migration %s: %w", name, err)
		}
	}
	if current > 0 && len(files) > 0 {
		latest, _ := strconv.Atoi(strings.SplitN(filepath.Base(files[len(files)-1]), "_", 2)[0])
		if current > latest {
			return fmt.Errorf("the database is at schema version %d, newer than this forewarn (%d): upgrade forewarn", current, latest)
		}
	}
	return nil
}

// SchemaLatest is the schema version this forewarn's migrations reach on
// the store's backend.
func (s *Store) SchemaLatest() int { return schemaLatest(s.d) }

func schemaLatest(d dialect) int {
	files, _ := fs.Glob(migrations, "migrations/"+d.String()+"/*.sql")
	latest := 0
	for _, f := range files {
		if v, err := strconv.Atoi(strings.SplitN(filepath.Base(f), "_", 2)[0]); err == nil && v > latest {
			latest = v
		}
	}
	return latest
}

// SchemaVersion returns the applied schema version.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	err := s.r.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v)
	return v, err
}
