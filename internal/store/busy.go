package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// ErrBusy is returned when a write waited for the store's write lock for
// as long as its caller allowed: another writer held it, typically a feed
// run (in this process or another one, such as `forewarn run`) merging and
// committing a large dump. It is temporary: the caller should answer "try
// again later", never show the database's own error.
var ErrBusy = errors.New("the store is busy: a feed run is writing to it")

// minBusyRetry spaces out attempts that SQLite refused without waiting (a
// busy timeout of 0), so that waiting for the lock never spins.
const minBusyRetry = 50 * time.Millisecond

// isBusy reports whether err is SQLite's "database is locked" or "table is
// locked", extended codes included.
func isBusy(err error) bool {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	c := se.Code() & 0xff
	return c == sqlite3.SQLITE_BUSY || c == sqlite3.SQLITE_LOCKED
}

// waitWrite runs op, a write on the SQLite writer, for as long as ctx
// allows. SQLite's busy timeout (10 s) is shorter than a big feed run's
// commit, so when ctx has a deadline (a request's budget) op is tried
// again until the deadline instead of failing at the first timeout;
// without one it fails as before. A write that ran out of time waiting is
// an error wrapping ErrBusy (and the cause), so that callers can say so.
func waitWrite[T any](ctx context.Context, op func() (T, error)) (T, error) {
	_, hasDeadline := ctx.Deadline()
	for {
		start := time.Now()
		v, err := op()
		switch {
		case err == nil:
			return v, nil
		case isBusy(err) && hasDeadline && ctx.Err() == nil:
			if d := minBusyRetry - time.Since(start); d > 0 {
				t := time.NewTimer(d)
				select {
				case <-ctx.Done():
				case <-t.C:
				}
				t.Stop()
			}
			continue
		case isBusy(err),
			// The budget ran out while SQLite waited for the lock (or
			// the pool for this process's only writer connection).
			errors.Is(err, context.DeadlineExceeded) && errors.Is(ctx.Err(), context.DeadlineExceeded):
			return v, fmt.Errorf("%w (%w)", ErrBusy, err)
		}
		return v, err
	}
}
