package store

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"forewarn/internal/merge"
)

// On PostgreSQL a run's indicator writes are not upserted row by row: Write
// collects them, COPYs each chunk into a temporary staging table, and
// merges the chunk into indicators with one INSERT … SELECT … ON CONFLICT,
// all inside the run's transaction. Any other statement of the run that
// reads or changes indicators (expiry, allow-list, age_out, commit) first
// flushes what is collected, so it sees every write before it.

// stageChunk is how many rows one COPY and merge carry.
const stageChunk = 20000

// stageTable is the run's staging table; it lives for the transaction.
const stageTable = "forewarn_stage"

// writeColumns are the indicator columns a write sets, in appendRow's
// order.
var writeColumns = []string{"ip", "status", "created_at", "updated_at", "s_predicted_at", "s_predicted_netblock",
	"s_predicted_category", "s_cluster", "s_detected_by", "s_detected_identifiers", "s_detected_categories", "s_detected_at",
	"s_last_seen_at", "s_importance", "s_normalized_importance", "s_attr_runs", "s_hash", "s_lookup_netblock",
	"s_seen_at", "expires_at"}

// stageMerge moves the staged chunk into indicators. The staging step
// keeps one row per address, the last written (seq), because ON CONFLICT
// refuses to change one row twice in a statement; a run's fold already
// writes each address once, so this is a guard.
var stageMerge = func() string {
	cols := strings.Join(writeColumns, ", ")
	var set []string
	for _, c := range writeColumns[1:] {
		if c == "created_at" {
			continue
		}
		set = append(set, c+" = excluded."+c)
	}
	return `INSERT INTO indicators (` + cols + `)
		SELECT DISTINCT ON (ip) ` + cols + ` FROM ` + stageTable + ` ORDER BY ip, seq DESC
		ON CONFLICT (ip) DO UPDATE SET ` + strings.Join(set, ", ")
}()

// beginPostgres starts the run's transaction on a connection of its own,
// which COPY needs, and creates the staging table.
func (in *Ingest) beginPostgres(ctx context.Context, pool *db) error {
	conn, err := pool.Conn(ctx)
	if err != nil {
		return fmt.Errorf("begin ingest: %w", err)
	}
	t, err := conn.BeginTx(ctx, nil)
	if err != nil {
		conn.Close()
		return fmt.Errorf("begin ingest: %w", err)
	}
	in.conn, in.tx = conn, &tx{Tx: t, d: postgresDialect}
	if _, err := in.tx.ExecContext(ctx, `CREATE TEMPORARY TABLE `+stageTable+` ON COMMIT DROP AS
		SELECT `+strings.Join(writeColumns, ", ")+`, 0::bigint AS seq FROM indicators WITH NO DATA`); err != nil {
		in.tx.Rollback()
		conn.Close()
		return fmt.Errorf("begin ingest: create the staging table: %w", err)
	}
	return nil
}

func init() {
	if len(writeColumns) != writeCols {
		panic("store: writeColumns does not match writeCols")
	}
}

// writePostgres collects recs and flushes every stageChunk rows.
func (in *Ingest) writePostgres(ctx context.Context, recs []*merge.Stored) error {
	for _, r := range recs {
		row := appendRow(make([]any, 0, writeCols+1), r)
		row = append(row, int64(len(in.pending)))
		in.pending = append(in.pending, row)
		if creates(r) {
			in.created++
		}
		if len(in.pending) >= stageChunk {
			if err := in.flush(ctx); err != nil {
				return err
			}
		}
	}
	return nil
}

// flush copies the collected rows to the staging table and merges them.
// It does nothing on SQLite, which writes as it goes.
func (in *Ingest) flush(ctx context.Context) error {
	if in.conn == nil || len(in.pending) == 0 {
		return nil
	}
	rows := in.pending
	in.pending = in.pending[:0]
	err := in.conn.Raw(func(dc any) error {
		c, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("the PostgreSQL driver connection is a %T, not pgx's", dc)
		}
		_, err := c.Conn().CopyFrom(ctx, pgx.Identifier{stageTable}, append(append([]string{}, writeColumns...), "seq"), pgx.CopyFromRows(rows))
		return err
	})
	if err != nil {
		return fmt.Errorf("write indicators: copy to the staging table: %w", err)
	}
	if _, err := in.tx.ExecContext(ctx, stageMerge); err != nil {
		return fmt.Errorf("write indicators: merge the staging table: %w", err)
	}
	if _, err := in.tx.ExecContext(ctx, `TRUNCATE `+stageTable); err != nil {
		return fmt.Errorf("write indicators: empty the staging table: %w", err)
	}
	clear(rows)
	return nil
}

// release returns the run's connection to the pool (PostgreSQL).
func (in *Ingest) release() {
	if in.conn != nil {
		in.conn.Close()
		in.conn = nil
	}
}
