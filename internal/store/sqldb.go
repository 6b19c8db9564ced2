package store

import (
	"context"
	"database/sql"
	"strconv"
	"strings"
)

// dialect is the SQL engine behind a Store. The store's queries are
// written once, with ? placeholders and standard SQL; the few places where
// the engines differ ask the dialect.
type dialect int

const (
	sqliteDialect dialect = iota
	postgresDialect
)

func (d dialect) String() string {
	if d == postgresDialect {
		return "postgres"
	}
	return "sqlite"
}

// month is the SQL expression of the month ("2026-01", UTC) of a Unix
// seconds column.
func (d dialect) month(col string) string {
	if d == postgresDialect {
		return "to_char(to_timestamp(" + col + ") AT TIME ZONE 'UTC', 'YYYY-MM')"
	}
	return "strftime('%Y-%m', " + col + ", 'unixepoch')"
}

// orFail is the conflict clause of a bulk write in a transaction that any
// error rolls back whole: SQLite's " OR FAIL", nothing on PostgreSQL. A
// statement that may abort (the default, ABORT, for NOT NULL, UNIQUE and
// CHECK constraints) makes SQLite copy every page it changes to a
// statement journal first, to undo the statement alone: two writes to a
// temporary file per page, 12% of a 10%-changed list run's CPU at 1M
// entries, for an undo the transaction's rollback does anyway. FAIL stops
// the statement with the same constraint error, keeping its earlier rows,
// which that rollback discards.
func (d dialect) orFail() string {
	if d == postgresDialect {
		return ""
	}
	return " OR FAIL"
}

// drives is col, of a staging table joined with a stored table on it,
// made unusable as an index key on SQLite (a unary +): the planner then
// reads the staging table in order and looks each row up in the stored
// one, as it must. Without statistics on the temporary staging tables it
// may otherwise scan the whole stored table (a million rows) and look
// each up in the staging table.
func (d dialect) drives(col string) string {
	if d == postgresDialect {
		return col
	}
	return "+" + col
}

// listHas is the SQL term true when the list column (values joined by
// listSep) holds the value of the next placeholder, given with listSep on
// both sides.
func (d dialect) listHas(col string) string {
	if d == postgresDialect {
		return "strpos(chr(31) || " + col + " || chr(31), ?) > 0"
	}
	return "instr(char(31) || " + col + " || char(31), ?) > 0"
}

// contains is the SQL term true when the text expression holds the value
// of the next placeholder.
func (d dialect) contains(expr string) string {
	if d == postgresDialect {
		return "strpos(" + expr + ", ?) > 0"
	}
	return "instr(" + expr + ", ?) > 0"
}

// rebind rewrites the ? placeholders of q as $1, $2… for PostgreSQL. A ?
// inside a string literal ('…', a quote in it doubled), a quoted identifier
// ("…"), a line comment (-- …) or a block comment (/* … */, nested as
// PostgreSQL nests them) is text, not a placeholder. It is not cached: it
// is one pass over the query, small beside a round trip to the server.
func (d dialect) rebind(q string) string {
	if d != postgresDialect || !strings.Contains(q, "?") {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + strings.Count(q, "?")*3)
	var num [20]byte
	n := int64(0)
	for i := 0; i < len(q); {
		switch c := q[i]; c {
		case '\'', '"', '-', '/':
			if end := skipText(q, i); end > i {
				b.WriteString(q[i:end])
				i = end
				continue
			}
		case '?':
			n++
			b.WriteByte('$')
			b.Write(strconv.AppendInt(num[:0], n, 10))
			i++
			continue
		}
		b.WriteByte(q[i])
		i++
	}
	return b.String()
}

// skipText returns the end of the literal, quoted identifier or comment
// that starts at q[i], or i if none does. An unterminated one runs to the
// end of q.
func skipText(q string, i int) int {
	switch {
	case q[i] == '\'' || q[i] == '"':
		// A doubled quote inside is two literals back to back: the
		// same text.
		if j := strings.IndexByte(q[i+1:], q[i]); j >= 0 {
			return i + 1 + j + 1
		}
		return len(q)
	case strings.HasPrefix(q[i:], "--"):
		if j := strings.IndexByte(q[i:], '\n'); j >= 0 {
			return i + j + 1
		}
		return len(q)
	case strings.HasPrefix(q[i:], "/*"):
		depth := 0
		for j := i; j < len(q)-1; j++ {
			switch q[j : j+2] {
			case "/*":
				depth++
				j++
			case "*/":
				depth--
				j++
				if depth == 0 {
					return j + 1
				}
			}
		}
		return len(q)
	}
	return i
}

// db is a connection pool that speaks its dialect: every query goes
// through rebind.
type db struct {
	*sql.DB
	d dialect
	// waits marks SQLite's writer: its writes wait for the write lock
	// within their context's deadline (see waitWrite).
	waits bool
}

func (x *db) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	if x.waits {
		return waitWrite(ctx, func() (sql.Result, error) { return x.DB.ExecContext(ctx, x.d.rebind(q), args...) })
	}
	return x.DB.ExecContext(ctx, x.d.rebind(q), args...)
}

func (x *db) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return x.DB.QueryContext(ctx, x.d.rebind(q), args...)
}

func (x *db) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	return x.DB.QueryRowContext(ctx, x.d.rebind(q), args...)
}

func (x *db) Query(q string, args ...any) (*sql.Rows, error) {
	return x.DB.Query(x.d.rebind(q), args...)
}

func (x *db) QueryRow(q string, args ...any) *sql.Row {
	return x.DB.QueryRow(x.d.rebind(q), args...)
}

func (x *db) Exec(q string, args ...any) (sql.Result, error) {
	return x.DB.Exec(x.d.rebind(q), args...)
}

func (x *db) PrepareContext(ctx context.Context, q string) (*sql.Stmt, error) {
	return x.DB.PrepareContext(ctx, x.d.rebind(q))
}

func (x *db) BeginTx(ctx context.Context, opts *sql.TxOptions) (*tx, error) {
	begin := func() (*sql.Tx, error) { return x.DB.BeginTx(ctx, opts) }
	var t *sql.Tx
	var err error
	if x.waits {
		// _txlock=immediate takes the write lock at BEGIN: that is
		// where a transaction waits for another writer.
		t, err = waitWrite(ctx, begin)
	} else {
		t, err = begin()
	}
	if err != nil {
		return nil, err
	}
	return &tx{Tx: t, d: x.d}, nil
}

// tx is a transaction that speaks its dialect.
type tx struct {
	*sql.Tx
	d dialect
}

func (x *tx) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return x.Tx.ExecContext(ctx, x.d.rebind(q), args...)
}

func (x *tx) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return x.Tx.QueryContext(ctx, x.d.rebind(q), args...)
}

func (x *tx) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	return x.Tx.QueryRowContext(ctx, x.d.rebind(q), args...)
}

func (x *tx) PrepareContext(ctx context.Context, q string) (*sql.Stmt, error) {
	return x.Tx.PrepareContext(ctx, x.d.rebind(q))
}

var (
	_ execer = (*db)(nil)
	_ execer = (*tx)(nil)
)
