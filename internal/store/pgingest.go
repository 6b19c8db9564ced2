package store

import (
	"context"
	"database/sql"
	"fmt"
	"net/netip"
	"strings"
	"time"

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
	"s_predicted_category", "s_cluster_id", "s_detected_by", "s_detected_identifiers", "s_detected_categories", "s_detected_at",
	"s_last_seen_at", "s_importance", "s_normalized_importance", "s_attr_runs", "s_hash", "s_lookup_netblock",
	"s_seen_at", "expires_at", "s_listed", "confidence"}

// stageMerge moves the staged chunk into indicators. The staging step
// keeps one row per address, the last written (seq), because ON CONFLICT
// refuses to change one row twice in a statement; a run's fold already
// writes each address once, so this is a guard.
var stageMerge = func() string {
	cols := strings.Join(writeColumns, ", ")
	var set []string
	for _, c := range writeColumns[1:] {
		switch c {
		case "created_at":
			continue
		case "status", "confidence":
			set = append(set, c+" = "+seclyticsUpdate(postgresDialect, c))
			continue
		}
		set = append(set, c+" = excluded."+c)
	}
	return `INSERT INTO indicators (` + cols + `)
		SELECT DISTINCT ON (ip) ` + cols + ` FROM ` + stageTable + ` ORDER BY ip, seq DESC
		ON CONFLICT (ip) DO UPDATE SET ` + strings.Join(set, ", ")
}()

// pgIngest is a run's write transaction on PostgreSQL: it collects the
// rows Write is given and flushes them (COPY, then merge) every stageChunk
// rows and before any statement that reads or changes indicators.
type pgIngest struct {
	ingest
	// conn is the connection the transaction runs on, for COPY.
	conn *sql.Conn
	// pending are the rows written but not yet merged.
	pending [][]any
}

// beginPostgresIngest starts the run's transaction on a connection of its
// own, which COPY needs, and creates the staging table.
func beginPostgresIngest(ctx context.Context, pool *db) (*pgIngest, error) {
	conn, err := pool.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("begin ingest: %w", err)
	}
	t, err := conn.BeginTx(ctx, nil)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("begin ingest: %w", err)
	}
	in := &pgIngest{ingest: ingest{tx: &tx{Tx: t, d: postgresDialect}}, conn: conn}
	if err := lockWrites(ctx, in.tx); err != nil {
		in.Rollback()
		return nil, fmt.Errorf("begin ingest: %w", err)
	}
	if _, err := in.tx.ExecContext(ctx, `CREATE TEMPORARY TABLE `+stageTable+` ON COMMIT DROP AS
		SELECT `+strings.Join(writeColumns, ", ")+`, 0::bigint AS seq FROM indicators WITH NO DATA`); err != nil {
		in.Rollback()
		return nil, fmt.Errorf("begin ingest: create the staging table: %w", err)
	}
	if err := in.prepare(ctx); err != nil {
		in.Rollback()
		return nil, err
	}
	return in, nil
}

func init() {
	if len(writeColumns) != writeCols {
		panic("store: writeColumns does not match writeCols")
	}
}

// Write collects recs and flushes every stageChunk rows.
func (in *pgIngest) Write(ctx context.Context, recs []*merge.Stored) error {
	if err := in.clusters.resolve(ctx, in.tx, recs); err != nil {
		return fmt.Errorf("write indicators: %w", err)
	}
	for _, r := range recs {
		row := appendRow(make([]any, 0, writeCols+1), r, in.clusters.value(r))
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
func (in *pgIngest) flush(ctx context.Context) error {
	if len(in.pending) == 0 {
		return nil
	}
	// The merged rows name their clusters from s_clusters.
	if err := in.clusters.flush(ctx, in.tx); err != nil {
		return fmt.Errorf("write indicators: %w", err)
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

// Commit merges what is collected and makes the run's writes visible, all
// at once.
func (in *pgIngest) Commit() error {
	defer in.release()
	if err := in.flush(context.Background()); err != nil {
		in.rollback()
		return fmt.Errorf("commit ingest: %w", err)
	}
	return in.commit()
}

// Rollback discards the run's writes. It is safe to call after Commit.
func (in *pgIngest) Rollback() error {
	defer in.release()
	return in.rollback()
}

// The statements below read or change indicators: each first merges what
// Write collected, so that it sees every write before it.

// ExpireDue is ingest.ExpireDue after a flush.
func (in *pgIngest) ExpireDue(ctx context.Context, now time.Time) (int64, error) {
	if err := in.flush(ctx); err != nil {
		return 0, err
	}
	return in.ingest.ExpireDue(ctx, now)
}

// ApplyAgeOut is ingest.ApplyAgeOut after a flush.
func (in *pgIngest) ApplyAgeOut(ctx context.Context, feed string, ageOut int64) error {
	if err := in.flush(ctx); err != nil {
		return err
	}
	return in.ingest.ApplyAgeOut(ctx, feed, ageOut)
}

// Whitelist is ingest.Whitelist after a flush.
func (in *pgIngest) Whitelist(ctx context.Context, ranges []netip.Prefix, now time.Time) (int64, error) {
	if err := in.flush(ctx); err != nil {
		return 0, err
	}
	return in.ingest.Whitelist(ctx, ranges, now)
}

// release returns the run's connection to the pool.
func (in *pgIngest) release() {
	if in.conn != nil {
		in.conn.Close()
		in.conn = nil
	}
}
