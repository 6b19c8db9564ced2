package store

import (
	"context"
	"database/sql"
	"strconv"
	"strings"
	"sync"
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

// listHas is the SQL term true when the list column (values joined by
// listSep) holds the value of the next placeholder, given with listSep on
// both sides.
func (d dialect) listHas(col string) string {
	if d == postgresDialect {
		return "strpos(chr(31) || " + col + " || chr(31), ?) > 0"
	}
	return "instr(char(31) || " + col + " || char(31), ?) > 0"
}

// rebinds caches queries rewritten for PostgreSQL.
var rebinds sync.Map

// rebind rewrites the ? placeholders of q as $1, $2… for PostgreSQL,
// leaving quoted strings and identifiers alone.
func (d dialect) rebind(q string) string {
	if d != postgresDialect || !strings.Contains(q, "?") {
		return q
	}
	if r, ok := rebinds.Load(q); ok {
		return r.(string)
	}
	var b strings.Builder
	b.Grow(len(q) + 16)
	n := 0
	var quote byte
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '?':
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(c)
	}
	r := b.String()
	rebinds.Store(q, r)
	return r
}

// db is a connection pool that speaks its dialect: every query goes
// through rebind.
type db struct {
	*sql.DB
	d dialect
}

func (x *db) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
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
	t, err := x.DB.BeginTx(ctx, opts)
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

// dialectOf is the dialect of a db or tx.
func dialectOf(q any) dialect {
	switch x := q.(type) {
	case *db:
		return x.d
	case *tx:
		return x.d
	}
	return sqliteDialect
}
