package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"database/sql/driver"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"forewarn/internal/activity"
)

// IsPostgres reports whether dsn selects the PostgreSQL backend: a
// postgres:// or postgresql:// URL. Anything else is a SQLite path.
func IsPostgres(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// Pool settings forewarn reads from the DSN's query and removes before
// handing it to pgx. Every other parameter is pgx's or PostgreSQL's (for
// example sslmode, connect_timeout, statement_timeout, search_path).
const (
	dsnMaxConns     = "pool_max_conns"
	dsnMaxIdle      = "pool_max_idle_conns"
	dsnConnLifetime = "pool_max_conn_lifetime"
)

// Defaults where the DSN says nothing. A statement that runs longer than
// DefaultStatementTimeout is canceled by the server: a run's statements
// each handle one chunk of rows, so none needs long.
const (
	DefaultMaxConns         = 10
	DefaultConnectTimeout   = 10 * time.Second
	DefaultStatementTimeout = 5 * time.Minute
)

// secretParams are DSN query parameters that carry a secret: libpq and pgx
// accept the password there as well as in the user info.
var secretParams = []string{"password", "sslpassword"}

// RedactDSN returns dsn without its passwords (user info, ?password= and
// ?sslpassword=), for messages and logs.
func RedactDSN(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "postgres://(a DSN that does not parse)"
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	q := u.Query()
	masked := false
	for _, p := range secretParams {
		if q.Has(p) {
			q.Set(p, "xxxxx")
			masked = true
		}
	}
	if masked {
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// dsnSecrets lists the non-empty passwords a DSN carries.
func dsnSecrets(dsn string) []string {
	u, err := url.Parse(dsn)
	if err != nil {
		return nil
	}
	var out []string
	if pw, ok := u.User.Password(); ok && pw != "" {
		out = append(out, pw)
	}
	q := u.Query()
	for _, p := range secretParams {
		if v := q.Get(p); v != "" {
			out = append(out, v)
		}
	}
	return out
}

func openPostgres(ctx context.Context, dsn string) (*Store, error) {
	shown := RedactDSN(dsn)
	u, err := url.Parse(dsn)
	if err != nil {
		return nil, fmt.Errorf("open store %s: the DSN does not parse: give postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?sslmode=…]", shown)
	}
	q := u.Query()
	maxConns, maxIdle, lifetime := DefaultMaxConns, 2, 30*time.Minute
	for name, dst := range map[string]*int{dsnMaxConns: &maxConns, dsnMaxIdle: &maxIdle} {
		if v := q.Get(name); v != "" {
			// A run holds two connections: its lock's and its
			// transaction's.
			least := map[string]int{dsnMaxConns: 2, dsnMaxIdle: 1}[name]
			n, err := strconv.Atoi(v)
			if err != nil || n < least {
				return nil, fmt.Errorf("open store %s: %s=%q: give a whole number of at least %d", shown, name, v, least)
			}
			*dst = n
		}
		q.Del(name)
	}
	if v := q.Get(dsnConnLifetime); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("open store %s: %s=%q: give a duration such as 30m", shown, dsnConnLifetime, v)
		}
		lifetime = d
	}
	q.Del(dsnConnLifetime)
	if q.Get("connect_timeout") == "" {
		q.Set("connect_timeout", strconv.Itoa(int(DefaultConnectTimeout.Seconds())))
	}
	if q.Get("statement_timeout") == "" {
		q.Set("statement_timeout", strconv.FormatInt(DefaultStatementTimeout.Milliseconds(), 10))
	}
	u.RawQuery = q.Encode()
	cfg, err := pgx.ParseConfig(u.String())
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", shown, redactErr(err, dsn))
	}
	sdb := stdlib.OpenDB(*cfg)
	sdb.SetMaxOpenConns(maxConns)
	sdb.SetMaxIdleConns(min(maxIdle, maxConns))
	sdb.SetConnMaxLifetime(lifetime)
	pctx, cancel := context.WithTimeout(ctx, DefaultConnectTimeout+5*time.Second)
	defer cancel()
	if err := sdb.PingContext(pctx); err != nil {
		sdb.Close()
		return nil, fmt.Errorf("open store %s: cannot reach PostgreSQL: %w (is the server running, and the DSN's host, port, user and database right?)", shown, redactErr(err, dsn))
	}
	d := &db{DB: sdb, d: postgresDialect}
	// Exports read through a pool of their own, on top of pool_max_conns.
	xdb := stdlib.OpenDB(*cfg)
	xdb.SetMaxOpenConns(DefaultExportConns)
	xdb.SetMaxIdleConns(min(maxIdle, DefaultExportConns))
	xdb.SetConnMaxLifetime(lifetime)
	s := &Store{path: shown, d: postgresDialect, w: d, r: d, x: &db{DB: xdb, d: postgresDialect}}
	if s.keyPath, err = postgresKeyPath(cfg); err != nil {
		s.Close()
		return nil, fmt.Errorf("open store %s: %w", shown, err)
	}
	if err := s.migrate(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("open store %s: %w", shown, err)
	}
	return s, nil
}

// redactErr keeps a driver error from repeating one of the DSN's passwords.
func redactErr(err error, dsn string) error {
	msg := err.Error()
	for _, pw := range dsnSecrets(dsn) {
		msg = strings.ReplaceAll(msg, pw, "xxxxx")
	}
	if msg == err.Error() {
		return err
	}
	return errors.New(msg)
}

// KeyFileEnv names the file of the key that encrypts stored tokens when the
// store is PostgreSQL. Every instance that shares a database needs the same
// key file.
const KeyFileEnv = "FOREWARN_KEY_FILE"

// postgresKeyPath is $FOREWARN_KEY_FILE, or a file in the user's
// configuration directory named after the server, database and schema.
func postgresKeyPath(cfg *pgx.ConnConfig) (string, error) {
	if p := os.Getenv(KeyFileEnv); p != "" {
		return p, nil
	}
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("no place for the token key file: set %s: %w", KeyFileEnv, err)
	}
	sum := sha256.Sum256([]byte(fmt.Sprintf("%s:%d/%s/%s", cfg.Host, cfg.Port, cfg.Database, cfg.RuntimeParams["search_path"])))
	dir = filepath.Join(dir, "forewarn")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("create %s for the token key file (or set %s): %w", dir, KeyFileEnv, err)
	}
	return filepath.Join(dir, "postgres-"+hex.EncodeToString(sum[:6])+".key"), nil
}

// pgFeedLock is a feed's run lock on PostgreSQL: a session advisory lock,
// held by one connection kept out of the pool for the run. The server
// releases it when that session ends, however the process ends.
type pgFeedLock struct {
	conn *sql.Conn
	key  string
}

func (l *pgFeedLock) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := l.conn.ExecContext(ctx, `SELECT pg_advisory_unlock(hashtext($1))`, l.key)
	if err != nil {
		// The session may still hold the lock: end it rather than
		// return it to the pool (ending it releases the lock).
		_ = l.conn.Raw(func(any) error { return driver.ErrBadConn })
	}
	return errors.Join(err, l.conn.Close())
}

func (s *Store) lockFeedPostgres(ctx context.Context, feed string) (io.Closer, error) {
	conn, err := s.w.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("lock feed %s: %w", feed, err)
	}
	var schema string
	if err := conn.QueryRowContext(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		conn.Close()
		return nil, fmt.Errorf("lock feed %s: %w", feed, err)
	}
	key := schema + ":forewarn:feed:" + feed
	err = s.retryWhileFinishing(ctx, feed, func() (bool, error) {
		var got bool
		if err := conn.QueryRowContext(ctx, `SELECT pg_try_advisory_lock(hashtext($1))`, key).Scan(&got); err != nil {
			return false, fmt.Errorf("lock feed %s: %w", feed, err)
		}
		return got, nil
	})
	if err != nil {
		conn.Close()
		return nil, err
	}
	l := &pgFeedLock{conn: conn, key: key}
	if err := s.markAbandoned(ctx, feed); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

// markAbandoned marks the feed's runs left "running" abandoned: the caller
// holds the feed's lock, so their process is gone. A dry run takes no
// lock, so holding it says nothing of one: a dry run is marked only when it
// was started on this host by a process that no longer exists, and one
// still running beside a real run keeps running (and is recorded as it
// ends).
func (s *Store) markAbandoned(ctx context.Context, feed string) error {
	const why = `'the process running it stopped before it finished; nothing it did was kept'`
	now := time.Now().UnixMilli()
	if _, err := s.w.ExecContext(ctx, `UPDATE runs SET status = ?, finished_at = ?, error = `+why+`
		WHERE feed = ? AND status = ? AND dry_run = 0`, activity.StatusAbandoned, now, feed, activity.StatusRunning); err != nil {
		return fmt.Errorf("mark abandoned runs of %s: %w", feed, err)
	}
	dead, err := s.deadDryRuns(ctx, feed)
	if err != nil {
		return err
	}
	for _, id := range dead {
		if _, err := s.w.ExecContext(ctx, `UPDATE runs SET status = ?, finished_at = ?, error = `+why+`
			WHERE id = ? AND status = ?`, activity.StatusAbandoned, now, id, activity.StatusRunning); err != nil {
			return fmt.Errorf("mark abandoned dry run %d of %s: %w", id, feed, err)
		}
	}
	return nil
}

// deadDryRuns are the feed's dry runs left "running" by a process of this
// host that no longer exists.
func (s *Store) deadDryRuns(ctx context.Context, feed string) ([]int64, error) {
	host, _ := os.Hostname()
	rows, err := s.w.QueryContext(ctx, `SELECT id, pid FROM runs WHERE feed = ? AND status = ? AND dry_run = 1 AND host = ?`,
		feed, activity.StatusRunning, host)
	if err != nil {
		return nil, fmt.Errorf("find dry runs of %s: %w", feed, err)
	}
	defer rows.Close()
	var dead []int64
	for rows.Next() {
		var id int64
		var pid int
		if err := rows.Scan(&id, &pid); err != nil {
			return nil, fmt.Errorf("find dry runs of %s: %w", feed, err)
		}
		if pid <= 0 || errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) {
			dead = append(dead, id)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("find dry runs of %s: %w", feed, err)
	}
	return dead, nil
}
